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

/** The application's services, built once per app from its dependencies. */
export interface AppServices {
  liveChats: LiveChatService;
  contacts: ContactService;
  sessions: SessionService;
  initiation: SessionInitiation;
  messages: MessageService;
  telegramWebhooks: TelegramWebhookRegistration;
}

export function createServices(deps: {
  config: Config;
  database: DatabaseHandle;
  clock: Clock;
  /** Delivery (the outbox and this replica's dispatcher); none when omitted. */
  queue?: OutboundQueue;
  observer?: InitiationObserver;
}): AppServices {
  const { db } = deps.database;
  const queue = deps.queue ?? noOutboundQueue;
  const liveChats = new LiveChatService(db, new SecretBox(deps.config.secretsKeys));
  const contacts = new ContactService(db);
  const pipeline = new Pipeline(new FactLoader(db, liveChats));
  const telegramApi = new TelegramClient({ baseUrl: deps.config.telegramApiBaseUrl, timeoutMs: deps.config.delivery.providerTimeoutMs });
  const telegramWebhooks = new TelegramWebhookRegistration(liveChats, telegramApi, deps.config.publicBaseUrl);
  // Initiations are written in groups, one statement at a time until 16 wait, then by up to a
  // quarter of the pool at once.
  const pool = deps.database.pool;
  const writer = new InitiationWriter(db, createQueryRunner(deps.database), { maxInFlight: pool ? Math.max(1, Math.floor(pool.options.max / 4)) : 1 });
  return {
    liveChats,
    contacts,
    sessions: new SessionService(db, pipeline, deps.clock),
    initiation: new SessionInitiation(pipeline, writer, queue, deps.clock, deps.observer ?? noInitiationObserver),
    messages: new MessageService(db, pipeline, queue, deps.clock),
    telegramWebhooks,
  };
}
