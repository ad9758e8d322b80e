import { type KyselyPlugin, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { EventDeliveryWorker } from '../../src/events/delivery-worker.js';
import { WebhookSender } from '../../src/events/webhook-sender.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator } from '../support/fixtures.js';
import { HttpStandIn, waitUntil } from '../support/http-stand-in.js';
import { anEvent, eventsConfig, readLog } from './helpers.js';

/** Counts the statements that call each claim function. */
function claimCounter(): { plugin: KyselyPlugin; windows: () => number; retries: () => number } {
  let windows = 0;
  let retries = 0;
  const plugin: KyselyPlugin = {
    transformQuery({ node }) {
      const text = JSON.stringify(node);
      if (text.includes('claim_event_windows(')) windows += 1;
      if (text.includes('claim_event_deliveries(')) retries += 1;
      return node;
    },
    transformResult: async ({ result }) => result,
  };
  return { plugin, windows: () => windows, retries: () => retries };
}

// The app's own webhook worker is off in tests: this one is made here, its statements counted.
describe('the webhook worker under a stream of events', () => {
  let t: TestApp;
  let hooks: HttpStandIn;

  beforeAll(async () => {
    // Receivers on 127.0.0.1 over plain HTTP allowed; the app's own worker stays off.
    t = await createTestApp({ config: { events: eventsConfig({ allowHttp: true, allowPrivate: true }) } });
    hooks = await HttpStandIn.start(() => ({ status: 200, body: {} }));
  });
  afterAll(async () => {
    await hooks.close();
    await t.close();
  });

  /** A worker of the test's own, polling only once a minute, its claims counted. */
  function countedWorker(options: { timeoutMs: number; perSubscription: number; retryBaseMs: number; readGapMs?: number }) {
    const counter = claimCounter();
    const worker = new EventDeliveryWorker({
      database: { db: t.database.handle.db.withPlugin(counter.plugin), kind: t.database.handle.kind },
      watch: t.app.services.events.watch,
      sender: new WebhookSender({ allowHttp: true, allowPrivate: true }, options.timeoutMs),
      secrets: t.app.services.secrets,
      clock: systemClock,
      policy: { maxAttempts: 3, baseMs: options.retryBaseMs, maxMs: options.retryBaseMs * 4 },
      perSubscription: options.perSubscription,
      timeoutMs: options.timeoutMs,
      logger: t.app.log,
      pollIntervalMs: 60_000,
      readGapMs: options.readGapMs,
    });
    return { worker, counter };
  }

  /**
   * Waits until GET /events shows the live chat's `count` events: final for every reader (no
   * transaction that began before they were written is still open), so that the worker's first
   * read takes them all; with polls a minute apart nothing else would read them soon.
   */
  async function everyEventFinal(liveChatId: string, count: number): Promise<void> {
    await waitUntil(async () => (await readLog(t.app, { liveChatId })).ids.length >= count || undefined);
  }

  /** A subscription to `url`'s /hooks for the events of a live chat of its own. */
  async function subscribe(url: string): Promise<{ id: string; liveChatId: string }> {
    const { liveChatId } = await liveChatWithOperator(t.app, 'telegram');
    const created = await call(t.app, 'POST', '/event-subscriptions', { url: `${url}/hooks`, liveChatIds: [liveChatId] });
    expect(created.statusCode).toBe(201);
    return { id: created.data.id, liveChatId };
  }

  it('reads the log a gap apart, and looks for retries only when some may be due', async () => {
    const { liveChatId } = await subscribe(hooks.url);
    const { worker, counter } = countedWorker({ timeoutMs: 5_000, perSubscription: 4, retryBaseMs: 1_000 });
    worker.start();
    try {
      const started = Date.now();
      const ids = new Set<string>();
      // A stream: an append every 10 ms or so, each waking the worker.
      for (let i = 0; i < 40; i++) {
        const event = anEvent(liveChatId);
        ids.add(event.id);
        await t.app.services.events.publish([event]);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await waitUntil(() => [...ids].every((id) => hooks.requests.some((r) => r.headers['webhook-id'] === id)) || undefined);
      const elapsed = Date.now() - started;
      // At most one read per 100 ms of the stream, and the first at once (a read per append or
      // per window would be dozens).
      expect(counter.windows()).toBeGreaterThan(0);
      expect(counter.windows()).toBeLessThanOrEqual(Math.floor(elapsed / 100) + 2);
      // Once at the start; appends alone make no delivery due (first attempts go in windows).
      expect(counter.retries()).toBe(1);
    } finally {
      await worker.stop();
    }
  });

  it('reads on at once after a full window, so that a backlog is not held to one window per read gap', async () => {
    const { id, liveChatId } = await subscribe(hooks.url);
    // Only this subscription is read (the others would read on after their own full scans).
    await sql`UPDATE event_subscriptions SET status = 'paused' WHERE id <> ${id}`.execute(t.database.handle.db);
    // A backlog of three windows (a read takes 500 events at most), and read gaps of a minute:
    // within seconds only if each full window has the next read at once.
    const events = Array.from({ length: 1_100 }, () => anEvent(liveChatId));
    await t.app.services.events.publish(events);
    await everyEventFinal(liveChatId, events.length);
    const { worker, counter } = countedWorker({ timeoutMs: 5_000, perSubscription: 32, retryBaseMs: 60_000, readGapMs: 60_000 });
    worker.start();
    try {
      const wanted = new Set(events.map((e) => e.id));
      await waitUntil(() => hooks.requests.filter((r) => wanted.has(String(r.headers['webhook-id']))).length >= wanted.size || undefined, { timeoutMs: 15_000 });
      // One read a window: none made while its own window was still being sent.
      expect(counter.windows()).toBe(3);
    } finally {
      await worker.stop();
      await sql`UPDATE event_subscriptions SET status = 'active' WHERE status = 'paused'`.execute(t.database.handle.db);
    }
  });

  it('looks for retries at once when a window left events untried', async () => {
    // The first webhook hangs past the window's deadline; the window is written with the
    // other two untried, due at once, while the hung one's retry is a minute away.
    const slow = await HttpStandIn.start(() => ({ status: 200, body: {} }));
    slow.replyNext({ hang: true });
    const { liveChatId } = await subscribe(slow.url);
    const events = [anEvent(liveChatId), anEvent(liveChatId), anEvent(liveChatId)];
    await t.app.services.events.publish(events);
    await everyEventFinal(liveChatId, events.length);
    const { worker, counter } = countedWorker({ timeoutMs: 300, perSubscription: 1, retryBaseMs: 60_000 });
    worker.start();
    try {
      // Long before the next poll (a minute): only the window's end can have asked for them.
      await waitUntil(() => events.every((e) => slow.requests.some((r) => r.headers['webhook-id'] === e.id)) || undefined, { timeoutMs: 5_000 });
      expect(counter.retries()).toBeGreaterThanOrEqual(2);
    } finally {
      await worker.stop();
      await slow.close();
    }
  });
});
