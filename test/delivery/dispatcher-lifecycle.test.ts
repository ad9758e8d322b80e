import { type Kysely, sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { type ChannelRegistry, createChannelRegistry } from '../../src/channels/registry.js';
import { type DatabaseHandle, connectDatabase } from '../../src/db/connection.js';
import type { ChannelType } from '../../src/domain/channel.js';
import type { Database } from '../../src/db/types.js';
import type { Dispatcher} from '../../src/delivery/dispatcher.js';
import { type DeliveryObserver, type DispatcherOptions } from '../../src/delivery/dispatcher.js';
import { claimDueMessages } from '../../src/delivery/outbox-repository.js';
import { type TestApp, createTestApp, testConfig } from '../support/app.js';
import { usingPostgres } from '../support/database.js';
import { type HttpStandIn, waitUntil } from '../support/http-stand-in.js';
import { startTelegramStandIn, telegramError } from '../support/telegram-stand-in.js';
import { messageOf, sendText, telegramSession, testDispatcher } from './helpers.js';

let nextUser = 8_000_000;

describe('dispatcher lifecycle', () => {
  let t: TestApp;
  let db: Kysely<Database>;
  let telegram: HttpStandIn;
  let channels: ChannelRegistry;
  const running: Dispatcher[] = [];

  /** A dispatcher on the test database (the app's own one is off). */
  function dispatcher(overrides: Partial<DispatcherOptions> = {}): Dispatcher {
    const created = testDispatcher(t, channels, overrides);
    running.push(created);
    return created;
  }

  const status = async (sessionId: string, messageId: string, wanted: string) =>
    waitUntil(
      async () => {
        const message = await messageOf(t.app, sessionId, messageId);
        return message?.status === wanted ? message : undefined;
      },
      { what: `message ${messageId} to be ${wanted}` },
    );

  beforeAll(async () => {
    telegram = await startTelegramStandIn();
    t = await createTestApp();
    db = t.database.handle.db;
    channels = createChannelRegistry(testConfig({ telegramApiBaseUrl: telegram.url, delivery: { ...testConfig().delivery, providerTimeoutMs: 2_000 } }));
  });
  afterAll(async () => {
    await channels.close();
    await t.close();
    await telegram.close();
  });
  beforeEach(() => telegram.reset());
  afterEach(async () => {
    await Promise.all(running.splice(0).map((d) => d.stop({ graceMs: 100 })));
  });

  it('sends a message queued while no dispatcher ran, once one starts', async () => {
    const session = await telegramSession(t.app, db, { userId: nextUser++, text: 'Queued while nobody delivers' });
    expect(await messageOf(t.app, session.sessionId, session.messageId!)).toMatchObject({ status: 'queued', attempts: 0 });

    dispatcher().start();

    expect(await status(session.sessionId, session.messageId!, 'sent')).toMatchObject({ attempts: 1 });
    expect(telegram.requests.map((r) => r.body.text)).toEqual(['Queued while nobody delivers']);
  });

  it('takes over a message whose claimer died, once its lease runs out', async () => {
    const session = await telegramSession(t.app, db, { userId: nextUser++, text: 'Orphaned' });
    // A process claims the message and dies before it records anything.
    const [orphan] = await claimDueMessages(db, { limit: 10, leaseMs: 300 });
    expect(orphan?.id).toBe(session.messageId);

    dispatcher().start();

    expect(await status(session.sessionId, session.messageId!, 'sent')).toMatchObject({ attempts: 2 });
    expect(telegram.requests).toHaveLength(1);
    expect(telegram.requests[0]!.receivedAt).toBeGreaterThanOrEqual(orphan!.lockedUntil.getTime() - 50);
  });

  it('looks at the outbox at once when woken, without waiting for the next poll', async () => {
    const d = dispatcher({ pollIntervalMs: 60_000 });
    d.start();
    const session = await telegramSession(t.app, db, { userId: nextUser++, text: 'Wake up' });

    d.wake();

    await status(session.sessionId, session.messageId!, 'sent');
  });

  it.skipIf(!usingPostgres)('is woken by NOTIFY when another process queues a message', async () => {
    // Its own pool, as in another replica; nobody calls wake() on it.
    const replica: DatabaseHandle = await connectDatabase({ databaseUrl: t.database.url!, poolSize: 2 });
    try {
      const d = dispatcher({ database: replica, pollIntervalMs: 60_000 });
      d.start();
      // Wait until its listener is connected (it looks at the outbox once then, finding nothing).
      await waitUntil(async () => {
        const { rows } = await sql<{ n: number }>`
          SELECT count(*)::integer AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'
        `.execute(db);
        return rows[0]!.n > 0 || undefined;
      }, { what: 'the LISTEN connection' });
      const session = await telegramSession(t.app, db, { userId: nextUser++, text: 'Notified' });
      await status(session.sessionId, session.messageId!, 'sent');
      await d.stop();
    } finally {
      await replica.close();
    }
  });

  it('finishes the delivery in flight when stopped', async () => {
    telegram.setHandler(async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return { status: 200, body: { ok: true, result: { message_id: 1, chat: { id: request.body.chat_id, type: 'private' }, date: 0, text: request.body.text } } };
    });
    const d = dispatcher();
    d.start();
    const session = await telegramSession(t.app, db, { userId: nextUser++, text: 'Slow provider' });
    await waitUntil(() => telegram.requests.length === 1 || undefined, { what: 'the provider call' });

    await d.stop();

    expect(await messageOf(t.app, session.sessionId, session.messageId!)).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('gives back what it cannot finish in time when stopped, so another replica sends it at once', async () => {
    telegram.setHandler(() => ({ hang: true }));
    const d = dispatcher({ providerTimeoutMs: 30_000 });
    d.start();
    const session = await telegramSession(t.app, db, { userId: nextUser++, text: 'Hung provider' });
    await waitUntil(() => telegram.requests.length === 1 || undefined, { what: 'the provider call' });

    await d.stop({ graceMs: 50 });

    const row = await db.selectFrom('messages').select(['status', 'locked_until', 'next_attempt_at']).where('id', '=', session.messageId!).executeTakeFirstOrThrow();
    expect(row.status).toBe('queued');
    expect(row.locked_until).toBeNull();
    telegram.reset();
    dispatcher({ pollIntervalMs: 60_000 }).start();
    await status(session.sessionId, session.messageId!, 'sent');
  });

  it('is started by the app when DISPATCHER_ENABLED and stopped by app.close(), before the database closes', async () => {
    telegram.setHandler(() => ({ hang: true }));
    // A second replica on the same database, with its dispatcher on.
    const replica = await buildApp({
      config: testConfig({
        dispatcherEnabled: true,
        telegramApiBaseUrl: telegram.url,
        delivery: { maxAttempts: 3, retryBaseMs: 60_000, retryMaxMs: 60_000, providerTimeoutMs: 300 },
      }),
      database: t.database.handle,
    });
    await replica.ready();
    const session = await telegramSession(replica, db, { userId: nextUser++, text: 'Sent by the app' });
    await waitUntil(() => telegram.requests.length === 1 || undefined, { what: 'the provider call' });

    await replica.close();

    // The hung call ran into its timeout while closing, and its outcome was recorded.
    const row = await db.selectFrom('messages').select(['status', 'locked_until', 'attempts', 'error']).where('id', '=', session.messageId!).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'queued', locked_until: null, attempts: 1, error: { code: 'timeout' } });
  });

  it('reports every finished attempt to the observer, by channel and outcome', async () => {
    const seen: string[] = [];
    const observer: DeliveryObserver = { delivered: (channel: ChannelType, outcome) => seen.push(`${channel}:${outcome}`) };
    telegram.replyNext(telegramError(502, 'Bad Gateway'));
    dispatcher({ observer }).start();

    const session = await telegramSession(t.app, db, { userId: nextUser++, text: 'one' });
    await status(session.sessionId, session.messageId!, 'sent');
    telegram.replyNext(telegramError(403, 'Forbidden: bot was blocked by the user'));
    const blocked = await sendText(t.app, session, 'two');
    await status(session.sessionId, blocked, 'failed');

    expect(seen).toEqual(['telegram:retry', 'telegram:sent', 'telegram:failed']);
  });
});
