import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordWindow, type LogWindow, type WindowOutcome } from '../../src/events/log-windows.js';
import { purgeEvents } from '../../src/events/log-repository.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { anEvent, claimWindowOf, windowSubscription } from './helpers.js';

const CLAIM = { maxWindows: 10, maxEvents: 500, perSubscription: 3, leaseMs: 30_000 };

interface Listed {
  eventId: string;
  type: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
}

// The app's webhook worker is off in tests: windows are claimed and written here by hand.
describe('the events a window delivered at the first attempt, kept as one row per window', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const db = () => t.database.handle.db;

  const subscription = () => windowSubscription(t.app);

  async function windowOf(subscriptionId: string): Promise<LogWindow> {
    const window = await claimWindowOf(db(), subscriptionId, CLAIM);
    if (!window) throw new Error('no window for the subscription');
    return window;
  }

  /** Every page of the listing, following `nextCursor`, `limit` at a time. */
  async function listAll(subscriptionId: string, query = '', limit = 2): Promise<Listed[]> {
    const items: Listed[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 50; pages++) {
      const page: { statusCode: number; data: { items: Listed[]; nextCursor: string | null } } = await call(t.app, 'GET', `/event-subscriptions/${subscriptionId}/deliveries?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.statusCode).toBe(200);
      items.push(...page.data.items);
      cursor = page.data.nextCursor;
      if (!cursor) return items;
    }
    throw new Error('the listing never ended');
  }

  const rowsOf = async (subscriptionId: string) => {
    const { rows } = await sql<{ windows: number; deliveries: number }>`
      SELECT (SELECT count(*) FROM event_window_deliveries WHERE subscription_id = ${subscriptionId})::integer AS windows,
        (SELECT count(*) FROM event_deliveries WHERE subscription_id = ${subscriptionId})::integer AS deliveries
    `.execute(db());
    return rows[0]!;
  };

  const delivered = (statusCode = 200): WindowOutcome['result'] => ({ status: 'delivered', statusCode });

  it('writes the delivered events as one row and the others as deliveries, and lists them all once, page by page', async () => {
    const sub = await subscription();
    const events = [anEvent(sub.liveChatId), anEvent(sub.liveChatId, 'session.closed'), anEvent(sub.liveChatId), anEvent(sub.liveChatId), anEvent(sub.liveChatId)];
    await t.app.services.events.publish(events);
    const [a, b, c, d, e] = events as [(typeof events)[0], (typeof events)[0], (typeof events)[0], (typeof events)[0], (typeof events)[0]];
    const window = await windowOf(sub.id);
    const held = await recordWindow(db(), window, [
      { event: a, result: delivered(200) },
      { event: b, result: delivered(204) },
      { event: c, result: delivered(202) },
      { event: d, result: { status: 'pending', delayMs: 60_000, statusCode: 500, error: 'HTTP 500' } },
      { event: e, result: 'untried' },
    ]);
    expect(held).toBe(true);
    expect(await rowsOf(sub.id)).toEqual({ windows: 1, deliveries: 2 });

    const listed = await listAll(sub.id);
    expect(listed.map((item) => item.eventId).sort()).toEqual(events.map((event) => event.id).sort());
    const byEvent = new Map(listed.map((item) => [item.eventId, item]));
    expect(byEvent.get(a.id)).toEqual({
      eventId: a.id, type: 'session.created', status: 'delivered', attempts: 1, lastStatusCode: 200, lastError: null, nextAttemptAt: null, deliveredAt: expect.any(String),
    });
    expect(byEvent.get(b.id)).toMatchObject({ type: 'session.closed', status: 'delivered', lastStatusCode: 204 });
    expect(byEvent.get(d.id)).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: 500, lastError: 'HTTP 500', nextAttemptAt: expect.any(String), deliveredAt: null });
    expect(byEvent.get(e.id)).toMatchObject({ status: 'pending', attempts: 0, lastStatusCode: null });

    expect((await listAll(sub.id, '&status=delivered')).map((item) => item.eventId).sort()).toEqual([a.id, b.id, c.id].sort());
    expect((await listAll(sub.id, '&status=pending', 1)).map((item) => item.eventId).sort()).toEqual([d.id, e.id].sort());
    expect(await listAll(sub.id, '&status=failed')).toEqual([]);
  });

  it('lists newest first across windows, and leaves an event a replay queued meanwhile to its delivery', async () => {
    const sub = await subscription();
    const first = [anEvent(sub.liveChatId), anEvent(sub.liveChatId)];
    await t.app.services.events.publish(first);
    expect(await recordWindow(db(), await windowOf(sub.id), first.map((event) => ({ event, result: delivered() })))).toBe(true);
    // Apart in time from the first window's row, so that the order is the windows'.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = [anEvent(sub.liveChatId), anEvent(sub.liveChatId), anEvent(sub.liveChatId)];
    await t.app.services.events.publish(second);
    const window = await windowOf(sub.id);
    await call(t.app, 'POST', `/event-subscriptions/${sub.id}/replay`, { since: new Date(Date.now() - 60_000).toISOString() });
    // The replay queued all five again; the second window's events now have deliveries of their own.
    expect(await recordWindow(db(), window, second.map((event) => ({ event, result: delivered() })))).toBe(true);
    expect(await rowsOf(sub.id)).toEqual({ windows: 1, deliveries: 5 });

    const listed = await listAll(sub.id, '', 3);
    expect(listed).toHaveLength(7);
    const replayed = listed.slice(0, 5);
    expect(replayed.every((item) => item.status === 'pending' && item.attempts === 0)).toBe(true);
    expect(listed.slice(5).map((item) => item.eventId).sort()).toEqual(first.map((event) => event.id).sort());
    expect(listed.slice(5).every((item) => item.status === 'delivered')).toBe(true);
  });

  it('forgets a window’s events past retention, and the window’s row once it is past retention too', async () => {
    const sub = await subscription();
    const old = { ...anEvent(sub.liveChatId), occurredAt: new Date(Date.now() - 3_600_000) };
    const recent = anEvent(sub.liveChatId);
    await t.app.services.events.publish([old, recent]);
    expect(await recordWindow(db(), await windowOf(sub.id), [old, recent].map((event) => ({ event, result: delivered() })))).toBe(true);

    await purgeEvents(db(), new Date(Date.now() - 60_000));
    expect((await listAll(sub.id)).map((item) => item.eventId)).toEqual([recent.id]);
    expect(await rowsOf(sub.id)).toEqual({ windows: 1, deliveries: 0 });

    await purgeEvents(db(), new Date(Date.now() + 60_000));
    expect(await listAll(sub.id)).toEqual([]);
    expect(await rowsOf(sub.id)).toEqual({ windows: 0, deliveries: 0 });
  });

  it('deletes a subscription’s window rows with it', async () => {
    const sub = await subscription();
    const other = await subscription();
    for (const s of [sub, other]) {
      const event = anEvent(s.liveChatId);
      await t.app.services.events.publish([event]);
      expect(await recordWindow(db(), await windowOf(s.id), [{ event, result: delivered() }])).toBe(true);
    }
    expect((await call(t.app, 'DELETE', `/event-subscriptions/${sub.id}`)).statusCode).toBe(204);
    expect(await rowsOf(sub.id)).toEqual({ windows: 0, deliveries: 0 });
    expect(await rowsOf(other.id)).toEqual({ windows: 1, deliveries: 0 });
  });
});
