import type { Kysely } from 'kysely';
import type { App } from '../../src/app.js';
import type { Database } from '../../src/db/types.js';
import { recordChannelContact } from '../../src/channel-contacts/repository.js';
import { call } from './app.js';

let counter = 0;
const unique = () => `${Date.now().toString(36)}${(counter++).toString(36)}`;

export const channels = {
  whatsapp: (overrides: Record<string, unknown> = {}) => ({
    type: 'whatsapp',
    phoneNumberId: '106540352242922',
    accessToken: 'EAAG-test-access-token',
    appSecret: 'whatsapp-app-secret',
    verifyToken: 'whatsapp-verify-token',
    ...overrides,
  }),
  telegram: (overrides: Record<string, unknown> = {}) => ({
    type: 'telegram',
    botToken: '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw',
    webhookSecret: 'telegram-webhook-secret',
    ...overrides,
  }),
  email: (overrides: Record<string, unknown> = {}) => ({
    type: 'email',
    address: 'support@example.com',
    smtp: { host: '127.0.0.1', port: 2525, secure: false, username: 'mailer', password: 'smtp-password' },
    ...overrides,
  }),
};

export type ChannelKind = keyof typeof channels;

/** Creates a live chat of the given kind with one assigned operator. */
export async function liveChatWithOperator(app: App, kind: ChannelKind, channelOverrides: Record<string, unknown> = {}) {
  const created = await call(app, 'POST', '/live-chats', { name: `${kind} ${unique()}`, channel: channels[kind](channelOverrides) });
  if (created.statusCode !== 201) throw new Error(`live chat not created: ${created.body}`);
  const operatorId = `op-${unique()}`;
  const assigned = await call(app, 'PUT', `/live-chats/${created.data.id}/operators/${operatorId}`);
  if (assigned.statusCode !== 204) throw new Error(`operator not assigned: ${assigned.body}`);
  return { liveChatId: created.data.id as string, operatorId, liveChat: created.data };
}

/** A unique, possible German mobile number in E.164. */
export function newPhone(): string {
  const n = (Date.now() * 1000 + counter++) % 100_000_000;
  return `+49151${String(n).padStart(8, '0')}`;
}

/** Records that a person wrote to the live chat's channel (what the webhooks do). */
export function personWrote(
  db: Kysely<Database>,
  liveChatId: string,
  person: { externalUserId: string; phone?: string; username?: string; chatId?: string },
  at: Date,
) {
  return recordChannelContact(db, { liveChatId, ...person, at });
}

/**
 * Closes the sessions that people's own messages opened on the live chat and nobody took, as an
 * operator dismisses them — so that a test about initiation can then initiate with those people.
 */
export async function dismissQueue(app: App, liveChatId: string): Promise<void> {
  const queued = await call(app, 'GET', `/sessions?liveChatId=${liveChatId}&unassigned=true&status=open&limit=100`);
  if (queued.statusCode !== 200) throw new Error(`queue not listed: ${queued.body}`);
  for (const session of queued.data.items as { id: string }[]) {
    const closed = await call(app, 'POST', `/sessions/${session.id}/close`, {});
    if (closed.statusCode !== 200) throw new Error(`queued session not closed: ${closed.body}`);
  }
}
