import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimDeliveries } from '../../src/events/delivery-claims.js';
import { replayEvents } from '../../src/events/delivery-repository.js';
import { type LogWindow, claimWindows, recordWindow } from '../../src/events/log-windows.js';
import { type TestApp, call, createTestApp, startSecondReplica } from '../support/app.js';
import { usingPostgres } from '../support/database.js';
import { liveChatWithOperator } from '../support/fixtures.js';
import { HttpStandIn, waitUntil } from '../support/http-stand-in.js';
import { anEvent, claimWindowOf, deliveringConfig, eventsConfig, windowSubscription } from './helpers.js';

const CLAIM = { maxWindows: 10, maxEvents: 500, perSubscription: 3, leaseMs: 30_000 };

// The app's webhook worker is off in tests: windows are claimed and written here by hand.
describe('windows of the log for webhooks', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const db = () => t.database.handle.db;

  const subscription = (extra: Record<string, unknown> = {}) => windowSubscription(t.app, extra);
  const windowOf = (subscriptionId: string, options = CLAIM) => claimWindowOf(db(), subscriptionId, options);

  const deliveries = async (id: string) => (await call(t.app, 'GET', `/event-subscriptions/${id}/deliveries`)).data.items;

  it('takes a subscription’s matching events, once, under a lease', async () => {
    const sub = await subscription({ types: ['session.created'] });
    const [first, skipped, second] = [anEvent(sub.liveChatId), anEvent(sub.liveChatId, 'session.closed'), anEvent(sub.liveChatId)];
    await t.app.services.events.publish([first, skipped]);
    await t.app.services.events.publish([second]);

    const window = await windowOf(sub.id);
    expect(window?.events.map((e) => e.id).sort()).toEqual([first.id, second.id].sort());
    expect(window?.slots).toBe(3);
    // Leased: no other claim takes it meanwhile.
    expect(await windowOf(sub.id)).toBeUndefined();
  });

  it('writes each event’s delivery with its outcome and moves past the window, only while its lease holds', async () => {
    const sub = await subscription();
    const [delivered, retried, untried] = [anEvent(sub.liveChatId), anEvent(sub.liveChatId), anEvent(sub.liveChatId)];
    await t.app.services.events.publish([delivered, retried, untried]);
    const window = (await windowOf(sub.id))!;

    const stale = { ...window, leaseUntil: new Date(window.leaseUntil.getTime() - 1) };
    expect(await recordWindow(db(), stale, [{ event: delivered, result: { status: 'delivered', statusCode: 200 } }])).toBe(false);
    expect(await deliveries(sub.id)).toEqual([]);

    const held = await recordWindow(db(), window, [
      { event: delivered, result: { status: 'delivered', statusCode: 204 } },
      { event: retried, result: { status: 'pending', delayMs: 60_000, statusCode: 500, error: 'HTTP 500' } },
      { event: untried, result: 'untried' },
    ]);
    expect(held).toBe(true);
    const byEvent = new Map((await deliveries(sub.id)).map((d: { eventId: string }) => [d.eventId, d]));
    expect(byEvent.get(delivered.id)).toMatchObject({ status: 'delivered', attempts: 1, lastStatusCode: 204, lastError: null, deliveredAt: expect.any(String) });
    expect(byEvent.get(retried.id)).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: 500, lastError: 'HTTP 500', nextAttemptAt: expect.any(String) });
    expect(byEvent.get(untried.id)).toMatchObject({ status: 'pending', attempts: 0, lastStatusCode: null, deliveredAt: null });

    // Written once: the lease is gone. The next window starts after it.
    expect(await recordWindow(db(), window, [])).toBe(false);
    const next = anEvent(sub.liveChatId);
    await t.app.services.events.publish([next]);
    expect((await windowOf(sub.id))?.events.map((e) => e.id)).toEqual([next.id]);
  });

  it('leaves a delivery that a replay queued meanwhile as it is', async () => {
    const sub = await subscription();
    const [replayed, other] = [anEvent(sub.liveChatId), anEvent(sub.liveChatId)];
    await t.app.services.events.publish([replayed]);
    await replayEvents(db(), sub.id, new Date(Date.now() - 60_000));
    await t.app.services.events.publish([other]);
    const window = (await windowOf(sub.id))!;
    expect(window.events).toHaveLength(2);
    const delivered = { status: 'delivered', statusCode: 200 } as const;
    expect(await recordWindow(db(), window, [{ event: replayed, result: delivered }, { event: other, result: delivered }])).toBe(true);
    const byEvent = new Map((await deliveries(sub.id)).map((d: { eventId: string }) => [d.eventId, d]));
    expect(byEvent.get(replayed.id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(byEvent.get(other.id)).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it.skipIf(!usingPostgres)('writes a window whose insert met a replay committing the same delivery (Postgres)', async () => {
    const sub = await subscription();
    const event = anEvent(sub.liveChatId);
    await t.app.services.events.publish([event]);
    const window = (await windowOf(sub.id))!;
    let recording: Promise<boolean> | undefined;
    await db()
      .transaction()
      .execute(async (trx) => {
        await replayEvents(trx, sub.id, new Date(Date.now() - 60_000));
        // The window's insert waits on the replay's uncommitted row, then meets it committed.
        // A failed first attempt is written as a delivery (a delivered one would only go in the window's row).
        recording = recordWindow(db(), window, [{ event, result: { status: 'pending', delayMs: 60_000, statusCode: 500, error: 'HTTP 500' } }]);
        await waitUntil(async () => {
          const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`.execute(db());
          return rows[0]!.n > 0 || undefined;
        });
      });
    expect(await recording).toBe(true);
    expect(await deliveries(sub.id)).toEqual([expect.objectContaining({ eventId: event.id, status: 'pending', attempts: 0 })]);
    expect((await windowOf(sub.id))?.events ?? []).toEqual([]);
  });

  it('takes a window again once the lease of a holder that died runs out', async () => {
    const sub = await subscription();
    const event = anEvent(sub.liveChatId);
    await t.app.services.events.publish([event]);
    const abandoned = (await windowOf(sub.id))!;
    await sql`UPDATE event_subscriptions SET window_until = now() - interval '1 second' WHERE id = ${sub.id}`.execute(db());

    const again = await windowOf(sub.id);
    expect(again?.events.map((e) => e.id)).toEqual([event.id]);
    // The first holder's late outcome is not written over the second's window.
    expect(await recordWindow(db(), abandoned, [{ event, result: { status: 'delivered', statusCode: 200 } }])).toBe(false);
  });

  it('moves a subscription past events it does not take without a window', async () => {
    const sub = await subscription({ types: ['message.failed'] });
    await t.app.services.events.publish([anEvent(sub.liveChatId), anEvent(sub.liveChatId)]);
    expect(await windowOf(sub.id)).toBeUndefined();
    const taken = anEvent(sub.liveChatId, 'message.failed');
    await t.app.services.events.publish([taken]);
    expect((await windowOf(sub.id))?.events.map((e) => e.id)).toEqual([taken.id]);
  });

  it('says there may be more when a subscription passed over a full scan, and reads on from there', async () => {
    const sub = await subscription({ types: ['batch.completed'] });
    await t.app.services.events.publish([anEvent(sub.liveChatId), anEvent(sub.liveChatId), anEvent(sub.liveChatId)]);
    const taken = anEvent(sub.liveChatId, 'batch.completed');
    await t.app.services.events.publish([taken]);
    // Every other test's subscription is paused, so that only this one is read.
    await sql`UPDATE event_subscriptions SET status = 'paused' WHERE id <> ${sub.id}`.execute(db());
    try {
      const claims: { more: boolean; events: string[] }[] = [];
      for (let i = 0; i < 10 && !claims.some((c) => c.events.length > 0); i++) {
        const { windows, more } = await claimWindows(db(), { ...CLAIM, maxEvents: 2 });
        claims.push({ more, events: windows.flatMap((w) => w.events.map((e) => e.id)) });
      }
      expect(claims[0]).toEqual({ more: true, events: [] });
      expect(claims.at(-1)?.events).toEqual([taken.id]);
    } finally {
      await sql`UPDATE event_subscriptions SET status = 'active', window_until = NULL, window_slots = 0`.execute(db());
    }
  });

  it('marks a window whose read was a full scan: its subscription has more to read once it is written', async () => {
    const sub = await subscription();
    const events = [anEvent(sub.liveChatId), anEvent(sub.liveChatId), anEvent(sub.liveChatId)];
    await t.app.services.events.publish(events);
    const delivered = (window: LogWindow) => window.events.map((event) => ({ event, result: { status: 'delivered' as const, statusCode: 200 } }));

    const first = (await windowOf(sub.id, { ...CLAIM, maxEvents: 2 }))!;
    expect(first.events.map((e) => e.id).sort()).toEqual([events[0]!.id, events[1]!.id].sort());
    expect(first.full).toBe(true);
    expect(await recordWindow(db(), first, delivered(first))).toBe(true);

    const rest = (await windowOf(sub.id, { ...CLAIM, maxEvents: 2 }))!;
    expect(rest.events.map((e) => e.id)).toEqual([events[2]!.id]);
    expect(rest.full).toBe(false);
    expect(await recordWindow(db(), rest, delivered(rest))).toBe(true);
  });

  it('claims at most the windows asked for', async () => {
    const subs = [await subscription(), await subscription()];
    for (const sub of subs) await t.app.services.events.publish([anEvent(sub.liveChatId)]);
    // Windows are claimed from the subscriptions taken in id order, up to the limit.
    const first = await claimWindows(db(), { ...CLAIM, maxWindows: 1 });
    expect(first.windows.length).toBeLessThanOrEqual(1);
    const rest = await claimWindows(db(), CLAIM);
    const ours = [...first.windows, ...rest.windows].map((w) => w.subscriptionId).filter((id) => subs.some((s) => s.id === id));
    expect(ours.sort()).toEqual(subs.map((s) => s.id).sort());
    await sql`UPDATE event_subscriptions SET window_until = NULL, window_slots = 0`.execute(db());
  });

  it('shares the subscription’s limit between its window and its retries', async () => {
    const sub = await subscription();
    await call(t.app, 'PATCH', `/event-subscriptions/${sub.id}`, { status: 'paused' });
    const replayed = anEvent(sub.liveChatId);
    await t.app.services.events.publish([replayed]);
    await call(t.app, 'POST', `/event-subscriptions/${sub.id}/replay`, { since: new Date(Date.now() - 60_000).toISOString() });
    await call(t.app, 'PATCH', `/event-subscriptions/${sub.id}`, { status: 'active' });
    // A retry in flight takes one of the three slots: the window has the other two.
    const retry = (await claimDeliveries(db(), { limit: 10, perSubscription: 3, leaseMs: 30_000 })).find((d) => d.subscriptionId === sub.id);
    expect(retry?.event.id).toBe(replayed.id);
    await t.app.services.events.publish([anEvent(sub.liveChatId)]);
    const window = await windowOf(sub.id);
    expect(window?.slots).toBe(2);
    // And while the window holds them, no retry gets past the limit.
    await sql`UPDATE event_deliveries SET locked_until = NULL, next_attempt_at = now() - interval '1 second' WHERE subscription_id = ${sub.id}`.execute(db());
    await sql`UPDATE event_subscriptions SET window_slots = 3 WHERE id = ${sub.id}`.execute(db());
    expect((await claimDeliveries(db(), { limit: 10, perSubscription: 3, leaseMs: 30_000 })).filter((d) => d.subscriptionId === sub.id)).toEqual([]);
  });
});

describe('a window whose receiver does not answer', () => {
  let t: TestApp;
  let receiver: HttpStandIn;

  beforeAll(async () => {
    receiver = await HttpStandIn.start(() => ({ hang: true }));
    t = await createTestApp({ config: { events: deliveringConfig({ subscriptionConcurrency: 2, deliveryTimeoutMs: 300, maxAttempts: 2 }) } });
  });
  afterAll(async () => {
    await receiver.close();
    await t.close();
  });

  it('leaves the events it could not start in time to retries, within the subscription’s limit', async () => {
    const { liveChatId } = await liveChatWithOperator(t.app, 'telegram');
    const sub = await call(t.app, 'POST', '/event-subscriptions', { url: `${receiver.url}/hooks`, liveChatIds: [liveChatId] });
    const events = Array.from({ length: 6 }, () => anEvent(liveChatId));
    await t.app.services.events.publish(events);

    // The window sends two, both time out; the four it could not start go out as retries.
    await waitUntil(() => new Set(receiver.requests.map((r) => r.headers['webhook-id'])).size === events.length || undefined, { timeoutMs: 20_000 });
    expect(new Set(receiver.requests.map((r) => r.headers['webhook-id']))).toEqual(new Set(events.map((e) => e.id)));
    const items = (await call(t.app, 'GET', `/event-subscriptions/${sub.data.id}/deliveries?limit=100`)).data.items;
    expect(items).toHaveLength(events.length);
  });
});

describe('a replica that stops while sending a window', () => {
  let t: TestApp;
  let receiver: HttpStandIn;

  beforeAll(async () => {
    receiver = await HttpStandIn.start(() => ({ hang: true }));
    t = await createTestApp({ config: { events: eventsConfig({ allowHttp: true, allowPrivate: true }) } });
  });
  afterAll(async () => {
    await receiver.close();
    await t.close();
  });

  it('lets the attempts in flight end, and writes the window with the rest untried', async () => {
    const { liveChatId } = await liveChatWithOperator(t.app, 'telegram');
    const sub = await call(t.app, 'POST', '/event-subscriptions', { url: `${receiver.url}/hooks`, liveChatIds: [liveChatId] });
    expect(sub.statusCode).toBe(201);
    const events = Array.from({ length: 4 }, () => anEvent(liveChatId));
    await t.app.services.events.publish(events);
    // Only this replica sends (the test app's worker is off).
    const replica = await startSecondReplica(t, { events: deliveringConfig({ subscriptionConcurrency: 2, deliveryTimeoutMs: 1_000 }) });
    await waitUntil(() => receiver.requests.length === 2 || undefined);
    await replica.close();

    const items: { eventId: string; status: string; attempts: number; lastError: string | null }[] = (
      await call(t.app, 'GET', `/event-subscriptions/${sub.data.id}/deliveries?limit=100`)
    ).data.items;
    const sent = new Set(receiver.requests.map((r) => r.headers['webhook-id']));
    expect(items).toHaveLength(events.length);
    for (const item of items) {
      expect(item.status).toBe('pending');
      if (sent.has(item.eventId)) expect(item).toMatchObject({ attempts: 1, lastError: 'No answer within 1000 ms.' });
      else expect(item).toMatchObject({ attempts: 0, lastError: null });
    }
    expect(receiver.requests).toHaveLength(2);
    const [row] = (await sql<{ window_until: Date | null }>`SELECT window_until FROM event_subscriptions WHERE id = ${sub.data.id}`.execute(t.database.handle.db)).rows;
    expect(row?.window_until).toBeNull();
  });
});
