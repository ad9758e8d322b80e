import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/connection.js';
import { createQueryRunner } from './db/prepared.js';
import { ContactService } from './contacts/service.js';
import { LiveChatService } from './live-chats/service.js';
import { SecretBox } from './live-chats/secret-box.js';
import { TelegramWebhookRegistration } from './live-chats/telegram-webhook.js';
import { TelegramClient } from './channels/telegram-client.js';
import { InitiationWriter } from './sessions/initiation-writer.js';
import { MessageService } from './sessions/message-service.js';
import { type DeliveryHandoff, type SessionEvents, SessionService, noDeliveryHandoff, noSessionEvents } from './sessions/service.js';

/** The application's services, built once per app from its dependencies. */
export interface AppServices {
  liveChats: LiveChatService;
  contacts: ContactService;
  sessions: SessionService;
  messages: MessageService;
  telegramWebhooks: TelegramWebhookRegistration;
}

export function createServices(deps: { config: Config; database: DatabaseHandle; clock: Clock; events?: SessionEvents; handoff?: DeliveryHandoff }): AppServices {
  const { db } = deps.database;
  const events = deps.events ?? noSessionEvents;
  const liveChats = new LiveChatService(db, new SecretBox(deps.config.secretsKeys));
  const contacts = new ContactService(db);
  const telegramApi = new TelegramClient({ baseUrl: deps.config.telegramApiBaseUrl, timeoutMs: deps.config.delivery.providerTimeoutMs });
  const telegramWebhooks = new TelegramWebhookRegistration(liveChats, telegramApi, deps.config.publicBaseUrl);
  // Initiations are written in groups, one statement at a time until 16 wait, then by up to a
  // quarter of the pool at once.
  const pool = deps.database.pool;
  const writer = new InitiationWriter(db, createQueryRunner(deps.database), { maxInFlight: pool ? Math.max(1, Math.floor(pool.options.max / 4)) : 1 });
  const sessions = new SessionService(db, liveChats, deps.clock, writer, events, deps.handoff ?? noDeliveryHandoff);
  const messages = new MessageService(db, sessions, deps.clock, events);
  return { liveChats, contacts, sessions, messages, telegramWebhooks };
}
