import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChannelRegistry } from '../../src/channels/registry.js';
import { type DatabaseHandle, connectDatabase } from '../../src/db/connection.js';
import { Dispatcher } from '../../src/delivery/dispatcher.js';
import { type TestApp, createTestApp, testConfig } from '../support/app.js';
import { liveChatWithOperator } from '../support/fixtures.js';
import { type HttpStandIn, waitUntil } from '../support/http-stand-in.js';
import { startTelegramStandIn } from '../support/telegram-stand-in.js';
import { type TestSession, sendText, telegramSession } from './helpers.js';

const SESSIONS = 20;
const MESSAGES_PER_SESSION = 4;

describe('two dispatchers on one database', () => {
  let t: TestApp;
  let telegram: HttpStandIn;
  // On Postgres the second dispatcher has its own pool, as another replica would.
  let second: DatabaseHandle;

  beforeAll(async () => {
    telegram = await startTelegramStandIn();
    t = await createTestApp();
    second = t.database.url ? await connectDatabase({ databaseUrl: t.database.url, poolSize: 5 }) : t.database.handle;
  });
  afterAll(async () => {
    if (second !== t.database.handle) await second.close();
    await t.close();
    await telegram.close();
  });

  it('never sends one message twice, and keeps each session in order', async () => {
    // A provider that takes a little while, so both dispatchers have work in flight at once.
    const standInReply = telegram.requests;
    telegram.setHandler(async (request) => {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 15));
      const chat = request.body.chat_id;
      const n = standInReply.filter((r) => r.body.chat_id === chat).length;
      return { status: 200, body: { ok: true, result: { message_id: n, chat: { id: chat, type: 'private' }, date: 0, text: request.body.text } } };
    });
    const config = testConfig({ telegramApiBaseUrl: telegram.url });
    const registries = [createChannelRegistry(config), createChannelRegistry(config)];
    const sentBy = [0, 0];
    const dispatchers = [t.database.handle, second].map(
      (database, i) =>
        new Dispatcher({
          database,
          channels: registries[i]!,
          observer: { delivered: (_channel, outcome) => (sentBy[i]! += outcome === 'sent' ? 1 : 0) },
          liveChats: t.app.services.liveChats,
          policy: { maxAttempts: 3, baseMs: 20, maxMs: 100 },
          providerTimeoutMs: 2_000,
          logger: pino({ level: 'silent' }),
          concurrency: 4,
          pollIntervalMs: 20,
        }),
    );
    try {
      const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'telegram');
      const expected: string[] = [];
      const sessions: TestSession[] = [];
      const queue = async (m: number) => {
        for (const [s, session] of sessions.entries()) {
          await sendText(t.app, session, `s${s} m${m}`);
          expected.push(`${9_000_000 + s}|s${s} m${m}`);
        }
      };
      // Most of the work is waiting when the dispatchers start (every session has several
      // messages due at once); the rest arrives while they run.
      for (let s = 0; s < SESSIONS; s++) {
        const userId = 9_000_000 + s;
        sessions.push(await telegramSession(t.app, t.database.handle.db, { userId, liveChatId, operatorId, text: `s${s} m0` }));
        expected.push(`${userId}|s${s} m0`);
      }
      for (let m = 1; m < MESSAGES_PER_SESSION - 1; m++) await queue(m);
      for (const d of dispatchers) d.start();
      await queue(MESSAGES_PER_SESSION - 1);

      const total = SESSIONS * MESSAGES_PER_SESSION;
      await waitUntil(
        async () => {
          const row = await t.database.handle.db
            .selectFrom('messages')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('live_chat_id', '=', liveChatId)
            .where('status', '=', 'sent')
            .executeTakeFirstOrThrow();
          return Number(row.n) === total || undefined;
        },
        { timeoutMs: 30_000, what: `${total} messages to be sent` },
      );

      const received = telegram.requests.map((r) => `${r.body.chat_id}|${r.body.text}`);
      expect(received).toHaveLength(total);
      expect([...received].sort()).toEqual([...expected].sort());
      for (let s = 0; s < SESSIONS; s++) {
        const texts = telegram.requests.filter((r) => r.body.chat_id === 9_000_000 + s).map((r) => r.body.text);
        expect(texts).toEqual(Array.from({ length: MESSAGES_PER_SESSION }, (_, m) => `s${s} m${m}`));
      }
      const ids = await t.database.handle.db.selectFrom('messages').select(['provider_message_id', 'attempts']).where('live_chat_id', '=', liveChatId).execute();
      expect(new Set(ids.map((r) => r.provider_message_id)).size).toBe(total);
      expect(ids.every((r) => r.attempts === 1)).toBe(true);
      // Both took part: the test raced two claimers, not one.
      expect(sentBy[0]! + sentBy[1]!).toBe(total);
      expect(Math.min(...sentBy)).toBeGreaterThan(0);
    } finally {
      await Promise.all(dispatchers.map((d) => d.stop()));
      await Promise.all(registries.map((r) => r.close()));
    }
  });
});
