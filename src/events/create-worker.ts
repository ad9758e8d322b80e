import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../clock.js';
import type { EventsConfig } from '../config.js';
import type { DatabaseHandle } from '../db/connection.js';
import type { SecretBox } from '../live-chats/secret-box.js';
import { type EventDeliveryObserver, EventDeliveryWorker } from './delivery-worker.js';
import type { EventLogWatch } from './log-watch.js';
import type { Resolve } from './webhook-address.js';
import { WebhookSender } from './webhook-sender.js';

/** The webhook worker with the configuration's retry policy, timeout, concurrency and address policy. */
export function createEventDeliveryWorker(deps: {
  config: EventsConfig;
  database: DatabaseHandle;
  watch: EventLogWatch;
  secrets: SecretBox;
  clock: Clock;
  logger: FastifyBaseLogger;
  observer?: EventDeliveryObserver | undefined;
  resolveHost?: Resolve | undefined;
}): EventDeliveryWorker {
  const { config } = deps;
  return new EventDeliveryWorker({
    database: deps.database,
    watch: deps.watch,
    sender: new WebhookSender({ allowHttp: config.allowHttp, allowPrivate: config.allowPrivate }, config.deliveryTimeoutMs, deps.resolveHost),
    secrets: deps.secrets,
    clock: deps.clock,
    policy: { maxAttempts: config.maxAttempts, baseMs: config.retryBaseMs, maxMs: config.retryMaxMs },
    perSubscription: config.subscriptionConcurrency,
    timeoutMs: config.deliveryTimeoutMs,
    logger: deps.logger,
    observer: deps.observer,
  });
}
