import type { FastifyBaseLogger } from 'fastify';
import type { ChannelRegistry } from '../channels/registry.js';
import type { Config } from '../config.js';
import type { DatabaseHandle } from '../db/connection.js';
import type { LiveChat } from '../live-chats/model.js';
import { type DeliveryObserver, Dispatcher } from './dispatcher.js';
import { cachedLiveChats } from './live-chat-cache.js';

/** The dispatcher with the configuration's retry policy, provider timeout and concurrency. */
export function createDispatcher(deps: {
  config: Pick<Config, 'delivery' | 'dispatcherConcurrency'>;
  database: DatabaseHandle;
  channels: ChannelRegistry;
  liveChats: { get(id: string): Promise<LiveChat> };
  logger: FastifyBaseLogger;
  observer?: DeliveryObserver | undefined;
}): Dispatcher {
  const { maxAttempts, retryBaseMs, retryMaxMs, providerTimeoutMs } = deps.config.delivery;
  return new Dispatcher({
    database: deps.database,
    channels: deps.channels,
    liveChats: cachedLiveChats(deps.liveChats),
    policy: { maxAttempts, baseMs: retryBaseMs, maxMs: retryMaxMs },
    providerTimeoutMs,
    concurrency: deps.config.dispatcherConcurrency,
    logger: deps.logger,
    observer: deps.observer,
  });
}
