import type { Kysely } from 'kysely';
import pino from 'pino';
import type { App } from '../../src/app.js';
import type { ChannelRegistry } from '../../src/channels/registry.js';
import type { Database } from '../../src/db/types.js';
import { Dispatcher, type DispatcherOptions } from '../../src/delivery/dispatcher.js';
import type { TestApp } from '../support/app.js';
import { call } from '../support/app.js';
import { liveChatWithOperator, personWrote } from '../support/fixtures.js';

let counter = 0;
const unique = () => `${Date.now().toString(36)}${(counter++).toString(36)}`;

export interface TestSession {
  sessionId: string;
  liveChatId: string;
  operatorId: string;
  /** The first message's id, when one was sent with the session. */
  messageId: string | null;
}

/** Opens a session through the API (POST /sessions), optionally with a first message. */
async function openSession(app: App, body: Record<string, unknown>): Promise<{ sessionId: string; messageId: string | null }> {
  const created = await call(app, 'POST', '/sessions', body);
  if (created.statusCode !== 201) throw new Error(`session not created: ${created.body}`);
  const messages = await call(app, 'GET', `/sessions/${created.data.id}/messages`);
  return { sessionId: created.data.id, messageId: (messages.data.items[0]?.id as string | undefined) ?? null };
}

/** An email session; `smtpPort` points the live chat at a stand-in. */
export async function emailSession(app: App, options: { smtpPort?: number; text?: string; liveChatId?: string; operatorId?: string } = {}): Promise<TestSession> {
  const chat = options.liveChatId
    ? { liveChatId: options.liveChatId, operatorId: options.operatorId! }
    : await liveChatWithOperator(app, 'email', { smtp: { host: '127.0.0.1', port: options.smtpPort ?? 2525, secure: false } });
  const address = `person-${unique()}@example.org`;
  const opened = await openSession(app, {
    liveChatId: chat.liveChatId,
    operatorId: chat.operatorId,
    contact: { name: 'Ann', emails: [address] },
    ...(options.text !== undefined ? { message: { text: options.text } } : {}),
  });
  return { ...chat, ...opened };
}

/** A Telegram session with a person who wrote to the bot (user id = chat id = `userId`). */
export async function telegramSession(app: App, db: Kysely<Database>, options: { userId: number; text?: string; liveChatId?: string; operatorId?: string }): Promise<TestSession> {
  const chat = options.liveChatId ? { liveChatId: options.liveChatId, operatorId: options.operatorId! } : await liveChatWithOperator(app, 'telegram');
  const username = `user${options.userId}`;
  await personWrote(db, chat.liveChatId, { externalUserId: String(options.userId), chatId: String(options.userId), username }, new Date());
  const opened = await openSession(app, {
    liveChatId: chat.liveChatId,
    operatorId: chat.operatorId,
    contact: { name: 'Ann' },
    account: `@${username}`,
    ...(options.text !== undefined ? { message: { text: options.text } } : {}),
  });
  return { ...chat, ...opened };
}

/** A WhatsApp session with a person who wrote within 24 hours. */
export async function whatsAppSession(app: App, db: Kysely<Database>, options: { phone: string; message?: Record<string, unknown>; liveChatId?: string; operatorId?: string }): Promise<TestSession> {
  const chat = options.liveChatId ? { liveChatId: options.liveChatId, operatorId: options.operatorId! } : await liveChatWithOperator(app, 'whatsapp');
  await personWrote(db, chat.liveChatId, { externalUserId: options.phone.replace('+', ''), phone: options.phone }, new Date());
  const opened = await openSession(app, {
    liveChatId: chat.liveChatId,
    operatorId: chat.operatorId,
    contact: { name: 'Ann', phones: [options.phone] },
    ...(options.message ? { message: options.message } : {}),
  });
  return { ...chat, ...opened };
}

/** Queues another message on an open session (POST /sessions/{id}/messages). */
export async function sendText(app: App, session: TestSession, text: string): Promise<string> {
  const response = await call(app, 'POST', `/sessions/${session.sessionId}/messages`, { operatorId: session.operatorId, text });
  if (response.statusCode !== 202) throw new Error(`message not queued: ${response.body}`);
  return response.data.id;
}

/** The session's messages as the API shows them, oldest first. */
export async function messagesOf(app: App, sessionId: string): Promise<any[]> {
  const response = await call(app, 'GET', `/sessions/${sessionId}/messages`);
  return response.data.items;
}

/** The API's view of one message. */
export async function messageOf(app: App, sessionId: string, messageId: string): Promise<any> {
  return (await messagesOf(app, sessionId)).find((m) => m.id === messageId);
}

/**
 * A dispatcher on the test app's database (with the app's own one off), quick to retry and to
 * poll, silent; the caller stops it.
 */
export function testDispatcher(t: TestApp, channels: ChannelRegistry, overrides: Partial<DispatcherOptions> = {}): Dispatcher {
  return new Dispatcher({
    database: t.database.handle,
    channels,
    liveChats: t.app.services.liveChats,
    policy: { maxAttempts: 3, baseMs: 20, maxMs: 100 },
    providerTimeoutMs: 2_000,
    logger: pino({ level: 'silent' }),
    pollIntervalMs: 50,
    ...overrides,
  });
}
