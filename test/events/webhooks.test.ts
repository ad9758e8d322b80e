import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator } from '../support/fixtures.js';
import { HttpStandIn, type RecordedRequest, waitUntil } from '../support/http-stand-in.js';
import { anEvent, deliveringConfig } from './helpers.js';

const OK = { status: 200, body: { ok: true } };
const DAY_MS = 24 * 60 * 60_000;

function verify(secret: string, request: RecordedRequest): unknown {
  return new Webhook(secret).verify(request.rawBody, request.headers as Record<string, string>);
}

describe('webhook delivery', () => {
  let t: TestApp;
  const receivers: HttpStandIn[] = [];

  beforeAll(async () => {
    t = await createTestApp({ config: { events: deliveringConfig({ maxAttempts: 3, subscriptionConcurrency: 2, deliveryTimeoutMs: 10_000 }) } });
  });
  afterAll(async () => {
    // Receivers first: their hanging answers end, so the worker stops at once.
    await Promise.all(receivers.map((r) => r.close()));
    await t.close();
  });

  async function receiver(): Promise<HttpStandIn> {
    const standIn = await HttpStandIn.start(() => OK);
    receivers.push(standIn);
    return standIn;
  }

  /** A subscription of `url` to the events of a live chat of its own. */
  async function subscribe(url: string, extra: Record<string, unknown> = {}) {
    const { liveChatId } = await liveChatWithOperator(t.app, 'telegram');
    const created = await call(t.app, 'POST', '/event-subscriptions', { url: `${url}/hooks`, liveChatIds: [liveChatId], ...extra });
    expect(created.statusCode, created.body).toBe(201);
    return { id: created.data.id as string, secret: created.data.secret as string, liveChatId };
  }

  const deliveries = async (id: string) => (await call(t.app, 'GET', `/event-subscriptions/${id}/deliveries`)).data.items;

  it('retries a receiver that fails twice and delivers on the third attempt, signed the Standard Webhooks way', async () => {
    const hooks = await receiver();
    hooks.replyNext({ status: 500, body: {} }, { status: 500, body: {} });
    const sub = await subscribe(hooks.url);
    const event = anEvent(sub.liveChatId, 'session.created');
    await t.app.services.events.publish([event]);

    const delivered = await waitUntil(async () => (await deliveries(sub.id)).find((d: { status: string }) => d.status === 'delivered'));
    expect(delivered).toMatchObject({ eventId: event.id, type: 'session.created', attempts: 3, lastStatusCode: 200, lastError: null, nextAttemptAt: null });
    expect(hooks.requests).toHaveLength(3);
    const last = hooks.requests[2]!;
    expect(last.path).toBe('/hooks');
    expect(last.headers['webhook-id']).toBe(event.id);
    expect(verify(sub.secret, last)).toEqual({ id: event.id, type: 'session.created', occurredAt: expect.any(String), liveChatId: sub.liveChatId, data: event.data });
    expect(hooks.requests.map((r) => r.headers['webhook-id'])).toEqual([event.id, event.id, event.id]);
    // The first attempt went straight from the log, the others from its delivery row: one event, signed alike.
    expect(verify(sub.secret, hooks.requests[0]!)).toEqual(verify(sub.secret, last));
  });

  it('marks a delivery failed after the last attempt', async () => {
    const hooks = await receiver();
    hooks.setHandler(() => ({ status: 503, body: {} }));
    const sub = await subscribe(hooks.url);
    await t.app.services.events.publish([anEvent(sub.liveChatId)]);
    const failed = await waitUntil(async () => (await deliveries(sub.id)).find((d: { status: string }) => d.status === 'failed'));
    expect(failed).toMatchObject({ attempts: 3, lastStatusCode: 503, lastError: expect.stringContaining('HTTP 503'), nextAttemptAt: null, deliveredAt: null });
    expect(hooks.requests).toHaveLength(3);
  });

  it('does not follow a redirect', async () => {
    const target = await receiver();
    const redirecting: Server = createServer((_req, res) => res.writeHead(307, { location: `${target.url}/elsewhere` }).end());
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = redirecting.address() as AddressInfo;
      const sub = await subscribe(`http://127.0.0.1:${port}`);
      await t.app.services.events.publish([anEvent(sub.liveChatId)]);
      const failed = await waitUntil(async () => (await deliveries(sub.id)).find((d: { status: string }) => d.status === 'failed'));
      expect(failed.lastStatusCode).toBe(307);
      expect(target.requests).toEqual([]);
    } finally {
      redirecting.closeAllConnections();
      redirecting.close();
    }
  });

  it('gives a new subscription the events from its creation on', async () => {
    const hooks = await receiver();
    const { liveChatId } = await liveChatWithOperator(t.app, 'telegram');
    const before = anEvent(liveChatId);
    await t.app.services.events.publish([before]);
    const created = await call(t.app, 'POST', '/event-subscriptions', { url: `${hooks.url}/hooks`, liveChatIds: [liveChatId] });
    const after = anEvent(liveChatId);
    await t.app.services.events.publish([after]);
    await waitUntil(() => hooks.requests.length >= 1);
    // Its position in the log is past `before` now: that one can only come through replay.
    expect(hooks.requests.map((r) => r.headers['webhook-id'])).toEqual([after.id]);
    // Listed once its window is written, just after the receiver answered.
    const listed = await waitUntil(async () => {
      const items = await deliveries(created.data.id);
      return items.length > 0 && items;
    });
    expect(listed.map((d: { eventId: string }) => d.eventId)).toEqual([after.id]);
  });

  it('replays delivered events', async () => {
    const hooks = await receiver();
    const sub = await subscribe(hooks.url);
    const event = anEvent(sub.liveChatId);
    await t.app.services.events.publish([event]);
    await waitUntil(() => hooks.requests.length === 1);
    const replay = await call(t.app, 'POST', `/event-subscriptions/${sub.id}/replay`, { since: new Date(Date.now() - 60_000).toISOString() });
    expect(replay.statusCode).toBe(202);
    await waitUntil(() => hooks.requests.length === 2);
    expect(hooks.requests.map((r) => r.headers['webhook-id'])).toEqual([event.id, event.id]);
    expect(verify(sub.secret, hooks.requests[1]!)).toMatchObject({ id: event.id });
  });

  it('sends nothing to a paused subscription, and what was queued for it once it resumes', async () => {
    const pausedHooks = await receiver();
    const activeHooks = await receiver();
    const { liveChatId } = await liveChatWithOperator(t.app, 'telegram');
    const paused = await call(t.app, 'POST', '/event-subscriptions', { url: `${pausedHooks.url}/hooks`, liveChatIds: [liveChatId] });
    await call(t.app, 'POST', '/event-subscriptions', { url: `${activeHooks.url}/hooks`, liveChatIds: [liveChatId] });
    await call(t.app, 'PATCH', `/event-subscriptions/${paused.data.id}`, { status: 'paused' });
    const first = anEvent(liveChatId);
    await t.app.services.events.publish([first]);
    await call(t.app, 'POST', `/event-subscriptions/${paused.data.id}/replay`, { since: new Date(Date.now() - 60_000).toISOString() });
    const second = anEvent(liveChatId);
    await t.app.services.events.publish([second]);
    await waitUntil(() => activeHooks.requests.length === 2);
    // Both events went past the paused one: what happened meanwhile is its only through replay,
    // and the replayed delivery waits, untried.
    expect(pausedHooks.requests).toEqual([]);
    expect(await deliveries(paused.data.id)).toEqual([expect.objectContaining({ eventId: first.id, status: 'pending', attempts: 0 })]);

    await call(t.app, 'PATCH', `/event-subscriptions/${paused.data.id}`, { status: 'active' });
    await waitUntil(() => pausedHooks.requests.length === 1);
    expect(pausedHooks.requests[0]!.headers['webhook-id']).toBe(first.id);
  });

  it('takes a delivery again once the lease of a holder that died runs out, and gives up after the last attempt', async () => {
    const hooks = await receiver();
    const sub = await subscribe(hooks.url);
    await call(t.app, 'PATCH', `/event-subscriptions/${sub.id}`, { status: 'paused' });
    const [orphan, exhausted] = [anEvent(sub.liveChatId), anEvent(sub.liveChatId)];
    await t.app.services.events.publish([orphan, exhausted]);
    await call(t.app, 'POST', `/event-subscriptions/${sub.id}/replay`, { since: new Date(Date.now() - 60_000).toISOString() });
    // As a replica that claimed them and died mid-attempt leaves them: leased, the attempt counted.
    const db = t.database.handle.db;
    const claimedBy = (eventId: string, attempts: number) =>
      db.updateTable('event_deliveries').set({ attempts, locked_until: new Date(Date.now() - 1_000) }).where('event_id', '=', eventId).execute();
    await claimedBy(orphan.id, 1);
    await claimedBy(exhausted.id, 3);
    await call(t.app, 'PATCH', `/event-subscriptions/${sub.id}`, { status: 'active' });

    await waitUntil(async () => (await deliveries(sub.id)).every((d: { status: string }) => d.status !== 'pending'));
    const byEvent = new Map((await deliveries(sub.id)).map((d: { eventId: string }) => [d.eventId, d]));
    expect(byEvent.get(orphan.id)).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(byEvent.get(exhausted.id)).toMatchObject({ status: 'failed', attempts: 4, lastError: expect.stringContaining('No outcome after 3 attempts') });
    expect(hooks.requests.map((r) => r.headers['webhook-id'])).toEqual([orphan.id]);
  });

  it('keeps a receiver that never answers from holding up other subscriptions', async () => {
    const dead = await receiver();
    dead.setHandler(() => ({ hang: true }));
    const alive = await receiver();
    const { liveChatId } = await liveChatWithOperator(t.app, 'telegram');
    const deadSub = await call(t.app, 'POST', '/event-subscriptions', { url: `${dead.url}/hooks`, liveChatIds: [liveChatId] });
    await call(t.app, 'POST', '/event-subscriptions', { url: `${alive.url}/hooks`, liveChatIds: [liveChatId] });
    const events = Array.from({ length: 6 }, () => anEvent(liveChatId));
    for (const event of events) await t.app.services.events.publish([event]);

    await waitUntil(() => alive.requests.length === events.length);
    expect(alive.requests.map((r) => r.headers['webhook-id'])).toEqual(expect.arrayContaining(events.map((e) => e.id)));
    // The dead one holds at most its own two slots (EVENT_SUBSCRIPTION_CONCURRENCY), the rest wait.
    await waitUntil(() => dead.requests.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(dead.requests).toHaveLength(2);
    // Its window is still being sent: nothing of it is written before it ends.
    expect(await deliveries(deadSub.data.id)).toEqual([]);
  });

  it('counts attempts by outcome in /metrics', async () => {
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/event_deliveries_total\{outcome="delivered"\} [1-9]/);
    expect(metrics.body).toMatch(/event_deliveries_total\{outcome="retry"\} [1-9]/);
    expect(metrics.body).toMatch(/event_oldest_undelivered_age_seconds \d/);
  });

  it('signs with the old and the new secret for 24 hours after a rotation, then with the new one only', async () => {
    const hooks = await receiver();
    const sub = await subscribe(hooks.url);
    const rotated = await call(t.app, 'POST', `/event-subscriptions/${sub.id}/rotate-secret`);
    const newSecret: string = rotated.data.secret;

    await t.app.services.events.publish([anEvent(sub.liveChatId)]);
    await waitUntil(() => hooks.requests.length === 1);
    const during = hooks.requests[0]!;
    expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verify(sub.secret, during)).toBeTruthy();
    expect(verify(newSecret, during)).toBeTruthy();

    t.clock.advance(DAY_MS + 1_000);
    try {
      await t.app.services.events.publish([anEvent(sub.liveChatId)]);
      await waitUntil(() => hooks.requests.length === 2);
      const after = hooks.requests[1]!;
      // Its timestamp is a day ahead of the real clock, so compare with the library's own signature.
      const expected = new Webhook(newSecret).sign(String(after.headers['webhook-id']), new Date(Number(after.headers['webhook-timestamp']) * 1000), after.rawBody);
      expect(after.headers['webhook-signature']).toBe(expected);
    } finally {
      t.clock.current = new Date();
    }
  });
});
