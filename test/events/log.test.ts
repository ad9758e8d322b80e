import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { LOG_START, appendEvents, insertEventsFrom } from '../../src/events/log-repository.js';
import { encodeLogCursor } from '../../src/events/log-cursor.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { expectFieldError, expectProblem } from '../support/problems.js';
import { anEvent, readLog } from './helpers.js';

describe('GET /events', () => {
  let t: TestApp;
  let sessionsKey: string;
  const chatA = randomUUID();
  const chatB = randomUUID();

  beforeAll(async () => {
    t = await createTestApp();
    const key = await call(t.app, 'POST', '/api-keys', { name: 'reader', scopes: ['sessions'] });
    sessionsKey = key.data.key;
  });
  afterAll(() => t.close());

  it('reads every appended event once, oldest first, by looping on nextCursor', async () => {
    const start = (await readLog(t.app)).cursor;
    const written = Array.from({ length: 7 }, (_, i) => anEvent(i % 2 ? chatA : chatB));
    await t.app.services.events.publish(written.slice(0, 3));
    await t.app.services.events.publish(written.slice(3));
    const pages: string[][] = [];
    let cursor = start;
    for (;;) {
      const page = await call(t.app, 'GET', `/events?limit=2&after=${cursor}`, undefined, { key: sessionsKey });
      expect(page.statusCode).toBe(200);
      expect(page.data.nextCursor).toEqual(expect.any(String));
      if (page.data.items.length === 0) {
        // Nothing new: the same position, to ask again from.
        expect(page.data.nextCursor).toBe(cursor);
        break;
      }
      pages.push(page.data.items.map((e: { id: string }) => e.id));
      cursor = page.data.nextCursor;
    }
    expect(pages.flat()).toEqual(written.map((e) => e.id));
    expect(pages.every((p) => p.length <= 2)).toBe(true);
  });

  it('answers events as { id, type, occurredAt, liveChatId, data }', async () => {
    const { cursor } = await readLog(t.app);
    const event = { ...anEvent(chatA, 'message.failed'), occurredAt: new Date('2030-01-02T03:04:05.678Z') };
    await t.app.services.events.publish([event]);
    const page = await call(t.app, 'GET', `/events?after=${cursor}`);
    expect(page.data.items).toEqual([
      { id: event.id, type: 'message.failed', occurredAt: '2030-01-02T03:04:05.678Z', liveChatId: chatA, data: event.data },
    ]);
  });

  it('filters by types and by live chat, still seeing each matching event once', async () => {
    const { cursor } = await readLog(t.app);
    const written = [
      anEvent(chatA, 'session.created'),
      anEvent(chatB, 'message.failed'),
      anEvent(chatA, 'message.failed'),
      anEvent(chatB, 'session.closed'),
      anEvent(chatA, 'session.closed'),
    ];
    for (const event of written) await t.app.services.events.publish([event]);
    const byTypes = await readLog(t.app, { types: 'message.failed,session.closed', limit: '1' }, cursor);
    expect(byTypes.ids).toEqual(written.filter((e) => e.type !== 'session.created').map((e) => e.id));
    const byChat = await readLog(t.app, { liveChatId: chatA, limit: '2' }, cursor);
    expect(byChat.ids).toEqual(written.filter((e) => e.liveChatId === chatA).map((e) => e.id));
    const both = await readLog(t.app, { liveChatId: chatB, types: 'session.closed' }, cursor);
    expect(both.ids).toEqual([written[3]!.id]);
  });

  it('starts from the oldest kept event without a cursor', async () => {
    const all = await readLog(t.app);
    const direct = await call(t.app, 'GET', `/events?after=${encodeLogCursor(LOG_START)}&limit=500`);
    expect(direct.data.items.map((e: { id: string }) => e.id)).toEqual(all.ids);
  });

  it('shows events a writer appended inside its own transaction only once it commits', async () => {
    const { cursor } = await readLog(t.app);
    const event = anEvent(chatA);
    await t.database.handle.db.transaction().execute(async (trx) => {
      await appendEvents(trx, [event]);
    });
    t.app.services.events.appended();
    expect((await readLog(t.app, {}, cursor)).ids).toEqual([event.id]);
  });

  it('takes events a single-statement writer appends in a CTE of its own statement', async () => {
    const { cursor } = await readLog(t.app);
    const ids = [randomUUID(), randomUUID()];
    const written = await sql<{ id: string }>`
      WITH changed AS (SELECT * FROM (VALUES (${ids[0]}::uuid, 1), (${ids[1]}::uuid, 2)) AS c(id, n)),
      appended AS (${insertEventsFrom(sql`
        SELECT id, 'session.closed', ${chatA}::uuid, now(), jsonb_build_object('session', jsonb_build_object('n', n)) FROM changed ORDER BY n`)})
      SELECT id FROM appended
    `.execute(t.database.handle.db);
    t.app.services.events.appended();
    expect(written.rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    const page = await call(t.app, 'GET', `/events?after=${cursor}`);
    expect(page.data.items.map((e: { id: string; data: unknown }) => [e.id, e.data])).toEqual([
      [ids[0], { session: { n: 1 } }],
      [ids[1], { session: { n: 2 } }],
    ]);
  });

  it('holds an empty answer open with waitSeconds and answers as soon as an event arrives', async () => {
    const { cursor } = await readLog(t.app);
    const event = anEvent(chatB);
    const waiting = call(t.app, 'GET', `/events?after=${cursor}&waitSeconds=30`);
    // Appended once the read is under way (it is waiting by then on a single connection).
    setTimeout(() => void t.app.services.events.publish([event]), 50);
    const answer = await waiting;
    expect(answer.statusCode).toBe(200);
    expect(answer.data.items.map((e: { id: string }) => e.id)).toEqual([event.id]);
  });

  it('answers an empty page with the same cursor when nothing arrives within waitSeconds', async () => {
    const { cursor } = await readLog(t.app);
    const answer = await call(t.app, 'GET', `/events?after=${cursor}&waitSeconds=1`);
    expect(answer.data).toEqual({ items: [], nextCursor: cursor });
  });

  it('refuses a cursor it did not issue, unknown types and out-of-range numbers', async () => {
    expectFieldError(await call(t.app, 'GET', '/events?after=bm90LWEtY3Vyc29y'), '/cursor', 'invalid_cursor');
    expectFieldError(await call(t.app, 'GET', `/events?after=${Buffer.from('e1:1:x').toString('base64url')}`), '/cursor', 'invalid_cursor');
    expectFieldError(await call(t.app, 'GET', '/events?types=session.created,session.exploded'), '/types', 'invalid_value');
    expectFieldError(await call(t.app, 'GET', '/events?limit=501'), '/limit', 'out_of_range');
    expectFieldError(await call(t.app, 'GET', '/events?limit=0'), '/limit', 'out_of_range');
    expectFieldError(await call(t.app, 'GET', '/events?waitSeconds=31'), '/waitSeconds', 'out_of_range');
  });

  it('needs an API key', async () => {
    expectProblem(await call(t.app, 'GET', '/events', undefined, { key: null }), 401, 'unauthorized');
  });
});
