import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/connection.js';
import { createQueryRunner } from './db/prepared.js';
import { ContactService } from './contacts/service.js';
import { LiveChatService } from './live-chats/service.js';
import { SecretBox } from './live-chats/secret-box.js';
import { FactLoader } from './sessions/facts.js';
import { type InitiationObserver, SessionInitiation, noInitiationObserver } from './sessions/initiation.js';
import { TelegramWebhookRegistration } from './live-chats/telegram-webhook.js';
import { TelegramClient } from './channels/telegram-client.js';
import { InitiationWriter } from './sessions/initiation-writer.js';
import { MessageService } from './sessions/message-service.js';
import { type OutboundQueue, noOutboundQueue } from './sessions/outbound-queue.js';
import { Pipeline } from './sessions/pipeline.js';
import { SessionService } from './sessions/service.js';
import { BatchService } from './batches/service.js';
import { EventLog } from './events/event-log.js';
import { EventLogWatch } from './events/log-watch.js';
import { EventSubscriptionService } from './events/subscription-service.js';
import type { Resolve } from './events/webhook-address.js';
import { ConsentService } from './consent/service.js';
import { TemplateService } from './templates/service.js';

/** The application's services, built once per app from its dependencies. */
export interface AppServices {
  liveChats: LiveChatService;
  contacts: ContactService;
  sessions: SessionService;
  initiation: SessionInitiation;
  messages: MessageService;
  telegramWebhooks: TelegramWebhookRegistration;
  /** The event log: writers tell it after committing events; GET /events reads it. */
  events: EventLog;
  eventSubscriptions: EventSubscriptionService;
  batches: BatchService;
  /** Seals channel and subscription secrets with SECRETS_KEY. */
  secrets: SecretBox;
  templates: TemplateService;
  consent: ConsentService;
}

export function createServices(deps: {
  config: Config;
  database: DatabaseHandle;
  clock: Clock;
  /** Delivery (the outbox and this replica's dispatcher); none when omitted. */
  queue?: OutboundQueue;
  observer?: InitiationObserver;
  logger: FastifyBaseLogger;
  /** Called once a session batch was accepted (wakes this replica's batch worker). */
  batchAccepted?: () => void;
  /** Resolves webhook hosts (tests stand in for DNS); the system resolver when omitted. */
  resolveHost?: Resolve | undefined;
}): AppServices {
  const { db } = deps.database;
  const queue = deps.queue ?? noOutboundQueue;
  const secrets = new SecretBox(deps.config.secretsKeys);
  const liveChats = new LiveChatService(db, secrets);
  const contacts = new ContactService(db);
  const templates = new TemplateService(db, liveChats, {
    whatsappApiBaseUrl: deps.config.whatsappApiBaseUrl,
    timeoutMs: deps.config.delivery.providerTimeoutMs,
    syncIntervalMs: deps.config.templateSyncIntervalMinutes * 60_000,
  });
  const pipeline = new Pipeline(new FactLoader(db, liveChats, templates));
  const telegramApi = new TelegramClient({ baseUrl: deps.config.telegramApiBaseUrl, timeoutMs: deps.config.delivery.providerTimeoutMs });
  const telegramWebhooks = new TelegramWebhookRegistration(liveChats, telegramApi, deps.config.publicBaseUrl);
  // Initiations are written in groups, one statement at a time until 16 wait, then by up to a
  // quarter of the pool at once.
  const pool = deps.database.pool;
  const writer = new InitiationWriter(db, createQueryRunner(deps.database), { maxInFlight: pool ? Math.max(1, Math.floor(pool.options.max / 4)) : 1 });
  const eventLog = new EventLog(db, new EventLogWatch(deps.database, deps.logger), deps.database.kind === 'pglite' ? 250 : 1_000);
  const { allowHttp, allowPrivate } = deps.config.events;
  const eventSubscriptions = new EventSubscriptionService(db, secrets, deps.clock, { allowHttp, allowPrivate }, liveChats, deps.resolveHost);
  const batches = new BatchService(db, liveChats, eventLog, deps.logger, () => deps.batchAccepted?.());
  return {
    batches,
    liveChats,
    contacts,
    sessions: new SessionService(db, pipeline, deps.clock),
    initiation: new SessionInitiation(pipeline, writer, queue, deps.clock, deps.observer ?? noInitiationObserver),
    messages: new MessageService(db, pipeline, queue, deps.clock),
    telegramWebhooks,
    events: eventLog,
    eventSubscriptions,
    secrets,
    templates,
    consent: new ConsentService(db, liveChats),
  };
}
