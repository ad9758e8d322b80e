import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/connection.js';
import { type AppServices, createServices } from './services.js';
import { sessionNotFound } from './sessions/service.js';
import { errorsPlugin, renderFrameworkError } from './http/errors.js';
import { shutdownPlugin } from './http/shutdown.js';
import { authPlugin } from './http/auth.js';
import { liveChatScopePlugin } from './http/live-chat-scope.js';
import { findSession } from './sessions/repository.js';
import { findBatch, runningBatches } from './batches/repository.js';
import { batchRoutes } from './batches/routes.js';
import { BatchSchema } from './batches/schemas.js';
import { batchNotFound } from './batches/service.js';
import { BatchWorker } from './batches/worker.js';
import { idempotencyPlugin } from './idempotency/plugin.js';
import { securityPlugin } from './http/security.js';
import { requestLogPlugin } from './http/request-log.js';
import { Metrics, metricsPlugin } from './http/metrics.js';
import { requestIdFor } from './http/request-id.js';
import { openapiPlugin } from './http/openapi.js';
import { validatorCompiler } from './http/validation.js';
import { Problem } from './http/problem.js';
import { LiveChatSchema } from './live-chats/schemas.js';
import { ContactSchema } from './contacts/schemas.js';
import { MessageSchema, SessionSchema } from './sessions/schemas.js';
import { healthRoutes } from './health/routes.js';
import { apiKeyRoutes } from './api-keys/routes.js';
import { liveChatRoutes } from './live-chats/routes.js';
import { contactRoutes } from './contacts/routes.js';
import { sessionRoutes } from './sessions/routes.js';
import { messageRoutes } from './sessions/message-routes.js';
import { webhookRoutes } from './webhooks/routes.js';
import { templateRoutes } from './templates/routes.js';
import { SYNC_CHECK_INTERVAL_MS, TemplateSyncScheduler } from './templates/sync-scheduler.js';
import { consentRoutes } from './consent/routes.js';
import { InboundConsent } from './consent/inbound.js';
import { type ChannelRegistry, createChannelRegistry } from './channels/registry.js';
import { createDispatcher } from './delivery/create-dispatcher.js';
import type { Dispatcher } from './delivery/dispatcher.js';
import { OutboxSignal } from './delivery/outbox-signal.js';
import { OutboxQueue } from './delivery/outbox-queue.js';
import { outboxStats } from './delivery/outbox-stats.js';
import { eventRoutes } from './events/routes.js';
import { eventSubscriptionRoutes } from './events/subscription-routes.js';
import { createEventDeliveryWorker } from './events/create-worker.js';
import { eventDeliveryStats } from './events/delivery-repository.js';
import { EventRetention } from './events/retention.js';
import { EventSchema, SubscriptionSchema } from './events/schemas.js';
import type { Resolve } from './events/webhook-address.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { allowPhonePrefixes } from './accounts/accounts.js';

export interface BuildAppOptions {
  config: Config;
  database: DatabaseHandle;
  /** Time source for the rules that depend on it (the WhatsApp 24-hour window). */
  clock?: Clock;
  /** A pino logger; none (silent) when omitted. */
  logger?: FastifyBaseLogger;
  /** The channel clients the dispatcher sends through; the real providers when omitted. Closed with the app. */
  channels?: ChannelRegistry;
  /** Resolves webhook hosts (tests stand in for DNS); the system resolver when omitted. */
  resolveHost?: Resolve;
}

export type App = FastifyInstance & { services: AppServices };

/** Builds the application: plugins in a fixed order, then routes. Does not listen. */
export async function buildApp(options: BuildAppOptions): Promise<App> {
  const { config, database } = options;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: config.bodyLimitBytes,
    // Which hops in front of the service may name the client address (TRUST_PROXY).
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    requestIdHeader: false,
    genReqId: requestIdFor,
    // One line per request comes from the request-log plugin instead.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { allErrors: true } },
    // Operator ids are up to 128 characters and travel in the path.
    routerOptions: { maxParamLength: 256 },
    frameworkErrors: renderFrameworkError,
    // The shutdown plugin answers requests that arrive while closing, as problem+json.
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);

  const clock = options.clock ?? systemClock;
  allowPhonePrefixes(config.phoneAllowPrefixes);
  const metrics = new Metrics({
    pool: database.pool,
    defaultMetrics: true,
    outboxStats: () => outboxStats(database.db),
    eventStats: () => eventDeliveryStats(database.db),
    runningBatches: () => runningBatches(database.db),
  });
  // Delivery: the outbox dispatcher runs in every replica unless DISPATCHER_ENABLED=false; other
  // replicas' dispatchers hear of queued messages through NOTIFY (Postgres only).
  let dispatcher: Dispatcher | null = null;
  const outboxSignal = database.kind === 'postgres' ? new OutboxSignal(database.db, (err) => app.log.warn({ err }, 'could not notify other replicas')) : null;
  const queue = new OutboxQueue(() => dispatcher, outboxSignal);
  let batchWorker: BatchWorker | null = null;
  const services = createServices({ config, database, clock, queue, observer: metrics, logger: app.log, resolveHost: options.resolveHost, batchAccepted: () => batchWorker?.wake() });
  // Session batches: their recipients are initiated by a worker in every replica.
  batchWorker = config.batchWorkerEnabled
    ? new BatchWorker(database.db, services.initiation, services.batches, app.log, { ...config.batch, pollMs: database.kind === 'pglite' ? 250 : 1_000, observer: metrics })
    : null;
  app.decorate('services', services);

  // The dispatcher stops (finishing or releasing what it holds) before the caller closes the database.
  const channels = options.channels ?? createChannelRegistry(config);
  dispatcher = config.dispatcherEnabled
    ? createDispatcher({
        config,
        database,
        channels,
        liveChats: services.liveChats,
        logger: app.log,
        // A sent or failed message appended its event: wake the event log's readers.
        observer: { delivered: (channel, outcome) => (metrics.delivered(channel, outcome), outcome !== 'retry' && services.events.appended()) },
      })
    : null;
  // Webhooks for events: the worker runs in every replica unless EVENT_DELIVERY_ENABLED=false;
  // retention runs everywhere. Long-polling readers are let go as soon as closing begins.
  const eventWatch = services.events.watch;
  const eventWorker = config.events.deliveryEnabled
    ? createEventDeliveryWorker({ config: config.events, database, watch: eventWatch, secrets: services.secrets, clock, logger: app.log, observer: metrics, resolveHost: options.resolveHost })
    : null;
  const eventRetention = new EventRetention(database.db, clock, config.events.retentionDays, app.log);
  // Each replica looks for template catalogues due for their periodic sync (each one syncs once).
  const templateSync = new TemplateSyncScheduler(services.templates, app.log, Math.min(SYNC_CHECK_INTERVAL_MS, config.templateSyncIntervalMinutes * 60_000));
  app.addHook('onReady', async () => {
    dispatcher?.start();
    templateSync.start();
    eventWatch.start();
    eventWorker?.start();
    eventRetention.start();
    batchWorker?.start();
  });
  app.addHook('preClose', async () => eventWatch.stop());
  // A request that changed something may have appended events in its transaction (sessions
  // created, closed, assigned; messages received): wake the log's readers and the webhook
  // worker here, and other replicas' through NOTIFY, once it committed.
  app.addHook('onResponse', async (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 300) services.events.appended();
  });
  app.addHook('onClose', async () => {
    outboxSignal?.close();
    await Promise.all([templateSync.stop(), dispatcher?.stop(), eventWorker?.stop(), eventRetention.stop(), batchWorker?.stop()]);
    await channels.close();
  });
  for (const schema of [Problem, LiveChatSchema, ContactSchema, SessionSchema, MessageSchema, EventSchema, SubscriptionSchema, BatchSchema]) app.addSchema(schema);

  // Cross-cutting plugins first, so every route below inherits them.
  await app.register(errorsPlugin);
  await app.register(shutdownPlugin);
  await app.register(openapiPlugin);
  await app.register(authPlugin, {
    db: database.db,
    adminApiKey: config.adminApiKey,
    metricsToken: config.metricsToken,
    authFailuresPerMinute: config.authFailuresPerMinute,
    clock,
  });
  // Keys restricted to some live chats: the resources whose routes name them by their own id.
  await app.register(liveChatScopePlugin, {
    owners: {
      session: { liveChatOf: async (id) => (await findSession(database.db, id))?.live_chat_id, notFound: sessionNotFound },
      batch: { liveChatOf: async (id) => (await findBatch(database.db, id))?.live_chat_id, notFound: batchNotFound },
    },
  });
  await app.register(securityPlugin, { rateLimitPerMinute: config.rateLimitPerMinute });
  await app.register(idempotencyPlugin, { db: database.db, clock, lockMs: config.idempotencyLockMs });
  await app.register(requestLogPlugin);
  await app.register(metricsPlugin, { metrics });

  await app.register(healthRoutes, { database });
  await app.register(apiKeyRoutes, { db: database.db });
  await app.register(liveChatRoutes, { liveChats: services.liveChats, telegramWebhooks: services.telegramWebhooks });
  await app.register(contactRoutes, { contacts: services.contacts });
  await app.register(sessionRoutes, services);
  await app.register(messageRoutes, services);
  await app.register(templateRoutes, { templates: services.templates });
  await app.register(consentRoutes, { consent: services.consent });
  const hooks = { consent: new InboundConsent(config.consentKeywords), templates: services.templates };
  await app.register(webhookRoutes, { db: database.db, liveChats: services.liveChats, clock, events: services.events, hooks });
  await app.register(batchRoutes, { batches: services.batches });
  await app.register(eventRoutes, { events: services.events });
  await app.register(eventSubscriptionRoutes, { subscriptions: services.eventSubscriptions });

  return app as unknown as App;
}

/** Trusts the `hops` proxies nearest the service (Fastify's numeric trustProxy, which its types omit). */
function trustHops(hops: number) {
  return (_address: string, hop: number) => hop < hops;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: AppServices;
  }
}
