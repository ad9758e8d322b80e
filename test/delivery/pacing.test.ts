import type { Kysely } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import type { Database } from '../../src/db/types.js';
import { type TestApp, call, createTestApp, startSecondReplica } from '../support/app.js';
import { liveChatWithOperator, newPhone } from '../support/fixtures.js';
import { waitUntil } from '../support/http-stand-in.js';
import { type TimedRequest, TimedStandIn } from '../support/timed-stand-in.js';
import { sendText, telegramSession } from './helpers.js';

const TEMPLATE = { template: { name: 'order_update', language: 'en_US', parameters: ['Ann'] } };

/** The most requests that arrived within any window of `windowMs`, by the stand-in's arrival times. */
function mostInAnyWindow(requests: readonly TimedRequest[], windowMs = 1_000): number {
  const times = requests.map((r) => r.receivedAt).sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** Opens a WhatsApp session with a template message through `app`; resolves once it answered 201. */
async function initiate(app: App, chat: { liveChatId: string; operatorId: string }, phone = newPhone()): Promise<string> {
  const response = await call(app, 'POST', '/sessions', { liveChatId: chat.liveChatId, operatorId: chat.operatorId, contact: { name: 'Ann', phones: [phone] }, message: TEMPLATE });
  expect(response.statusCode, response.body).toBe(201);
  return phone.slice(1);
}

const toOf = (request: TimedRequest) => String(request.body?.to ?? request.body?.chat_id);

describe('pacing: never more than a live chat’s sendRatePerSecond', () => {
  let t: TestApp;
  let db: Kysely<Database>;
  // WhatsApp and Telegram alike; it tells them apart by the path.
  let provider: TimedStandIn;
  /** The requests that reached the provider so far, for one API (`/…/messages` or `/bot…/sendMessage`). */
  const arrived = async (api: 'whatsapp' | 'telegram') => (await provider.requests()).filter((r) => r.path.startsWith('/bot') === (api === 'telegram'));

  beforeAll(async () => {
    provider = await TimedStandIn.start();
    t = await createTestApp({
      config: {
        dispatcherEnabled: true,
        whatsappApiBaseUrl: provider.url,
        telegramApiBaseUrl: provider.url,
        delivery: { maxAttempts: 3, retryBaseMs: 20, retryMaxMs: 100, providerTimeoutMs: 5_000 },
      },
    });
    db = t.database.handle.db;
  });
  afterAll(async () => {
    await t.close();
    await provider.close();
  });
  beforeEach(() => provider.reset());

  it('shows each channel’s default rate, a chosen one, and refuses rates outside 1–1000', async () => {
    const defaults = await Promise.all((['whatsapp', 'telegram', 'email'] as const).map((kind) => liveChatWithOperator(t.app, kind)));
    expect(defaults.map((c) => c.liveChat.channel.sendRatePerSecond)).toEqual([80, 30, 10]);

    const chosen = await liveChatWithOperator(t.app, 'telegram', { sendRatePerSecond: 3 });
    const read = await call(t.app, 'GET', `/live-chats/${chosen.liveChatId}`);
    expect(read.data).toMatchObject({ channel: { type: 'telegram', sendRatePerSecond: 3 }, queuedMessages: 0 });
    const patched = await call(t.app, 'PATCH', `/live-chats/${chosen.liveChatId}`, { channel: { sendRatePerSecond: 1000 } });
    expect(patched.data.channel.sendRatePerSecond).toBe(1000);

    for (const rate of [0, 1001, 2.5]) {
      const refused = await call(t.app, 'POST', '/live-chats', { name: 'Too fast', channel: { type: 'email', address: 'a@example.com', smtp: { host: 'h', port: 25 }, sendRatePerSecond: rate } });
      expect(refused.statusCode).toBe(400);
      expect(refused.data.code).toBe('validation_failed');
    }
  });

  it('sends 30 sessions opened at once at 5 a second, all of them, and shows them queued meanwhile', async () => {
    const chat = await liveChatWithOperator(t.app, 'whatsapp', { sendRatePerSecond: 5 });
    const recipients = await Promise.all(Array.from({ length: 30 }, () => initiate(t.app, chat)));

    const waiting = await call(t.app, 'GET', `/live-chats/${chat.liveChatId}`);
    expect(waiting.data.channel.sendRatePerSecond).toBe(5);
    expect(waiting.data.queuedMessages).toBeGreaterThan(20);

    const sent = await waitUntil(async () => ((await arrived('whatsapp')).length >= 30 ? arrived('whatsapp') : undefined), { timeoutMs: 20_000, what: '30 messages to reach the provider' });
    expect(sent.map(toOf).sort()).toEqual([...recipients].sort());
    // Five a second (one more where a window's edge meets a slot's), never the burst of 30.
    expect(mostInAnyWindow(sent)).toBeLessThanOrEqual(6);
    await waitUntil(async () => (await call(t.app, 'GET', `/live-chats/${chat.liveChatId}`)).data.queuedMessages === 0, { what: 'the outbox to empty' });
  });

  it('spaces two messages to one Telegram chat a second apart without holding back other chats', async () => {
    const chat = await liveChatWithOperator(t.app, 'telegram');
    const first = await telegramSession(t.app, db, { userId: 8_100_001, text: 'One', ...chat });
    await sendText(t.app, first, 'Two');
    const others = [];
    for (const userId of [8_100_002, 8_100_003, 8_100_004]) others.push(await telegramSession(t.app, db, { userId, text: `Hello ${userId}`, ...chat }));

    const sent = await waitUntil(async () => ((await arrived('telegram')).length >= 5 ? arrived('telegram') : undefined), { what: 'five messages to reach the provider' });
    const toFirst = sent.filter((r) => r.body.chat_id === 8_100_001);
    expect(toFirst.map((r) => r.body.text)).toEqual(['One', 'Two']);
    expect(toFirst[1]!.receivedAt - toFirst[0]!.receivedAt).toBeGreaterThanOrEqual(1_000);
    // The other chats went out in between, not after the second message to the first one.
    const toOthers = sent.filter((r) => r.body.chat_id !== 8_100_001);
    expect(toOthers).toHaveLength(3);
    for (const request of toOthers) expect(request.receivedAt).toBeLessThan(toFirst[1]!.receivedAt);
  });

  it('lets no live chat wait for another one’s backlog', async () => {
    const busy = await liveChatWithOperator(t.app, 'whatsapp', { sendRatePerSecond: 1 });
    const backlog = await Promise.all(Array.from({ length: 8 }, () => initiate(t.app, busy)));
    await waitUntil(async () => (await arrived('whatsapp')).length >= 1, { what: 'the busy live chat to start sending' });

    const quiet = await liveChatWithOperator(t.app, 'whatsapp', { sendRatePerSecond: 2, phoneNumberId: '200000000000002' });
    const opened = Date.now();
    const recipient = await initiate(t.app, quiet);

    const quietSent = await waitUntil(async () => (await arrived('whatsapp')).find((r) => toOf(r) === recipient), { what: 'the quiet live chat’s message' });
    const busySent = (await arrived('whatsapp')).filter((r) => backlog.includes(toOf(r)));
    // The busy live chat still had most of its backlog ahead of it (one a second)…
    expect(busySent.filter((r) => r.receivedAt < quietSent.receivedAt).length).toBeLessThanOrEqual(3);
    // …and the quiet one's message went at once.
    expect(quietSent.receivedAt - opened).toBeLessThan(1_000);
    expect(quietSent.path).toBe('/200000000000002/messages');
  });
});

describe('pacing across two replicas on one database', () => {
  let t: TestApp;
  let replica: Awaited<ReturnType<typeof startSecondReplica>>;
  let second: App;
  let whatsapp: TimedStandIn;

  beforeAll(async () => {
    whatsapp = await TimedStandIn.start();
    const config = { dispatcherEnabled: true, whatsappApiBaseUrl: whatsapp.url, delivery: { maxAttempts: 3, retryBaseMs: 20, retryMaxMs: 100, providerTimeoutMs: 5_000 } };
    t = await createTestApp({ config });
    replica = await startSecondReplica(t, config);
    second = replica.app;
  });
  afterAll(async () => {
    await replica.close();
    await t.close();
    await whatsapp.close();
  });

  it('sends 30 sessions opened through both at 5 a second in all', async () => {
    const chat = await liveChatWithOperator(t.app, 'whatsapp', { sendRatePerSecond: 5 });
    const recipients = await Promise.all(Array.from({ length: 30 }, (_, i) => initiate(i % 2 === 0 ? t.app : second, chat)));

    const sent = await waitUntil(async () => ((await whatsapp.requests()).length >= 30 ? whatsapp.requests() : undefined), { timeoutMs: 20_000, what: '30 messages to reach the provider' });
    expect(sent.map(toOf).sort()).toEqual([...recipients].sort());
    expect(mostInAnyWindow(sent)).toBeLessThanOrEqual(6);
  });
});
