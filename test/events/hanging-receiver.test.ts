import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, call, createTestApp, startSecondReplica } from '../support/app.js';
import { liveChatWithOperator } from '../support/fixtures.js';
import { HttpStandIn, waitUntil } from '../support/http-stand-in.js';
import { deliveringConfig, eventsConfig, readLog } from './helpers.js';

const CONCURRENCY = 2;

describe('a receiver that never answers', () => {
  let t: TestApp;
  let replica: Awaited<ReturnType<typeof startSecondReplica>> | undefined;
  let receiver: HttpStandIn;
  let open = 0;
  let mostOpen = 0;

  beforeAll(async () => {
    receiver = await HttpStandIn.start(() => {
      open += 1;
      mostOpen = Math.max(mostOpen, open);
      return { hang: true };
    });
    // The test app's own worker is off: the replica started below sends.
    t = await createTestApp({ config: { events: eventsConfig({ allowHttp: true, allowPrivate: true }) } });
  });
  afterAll(async () => {
    await receiver.close();
    await replica?.close();
    await t.close();
  });

  it('holds no more than its subscription’s share of deliveries, and POST /sessions goes on answering', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'email');
    expect((await call(t.app, 'POST', '/event-subscriptions', { url: `${receiver.url}/hooks` })).statusCode).toBe(201);

    const created = await Promise.all(
      Array.from({ length: 30 }, (_, i) => call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: `H${i}`, emails: [`h${i}@hang.example`] } })),
    );
    expect(created.map((r) => r.statusCode)).toEqual(Array(30).fill(201));
    // A worker starts once all 30 events can be read, so that its first window holds more than
    // the subscription's limit (one taken while the sessions were still being written might
    // hold a single event, which would hang alone until the delivery timeout).
    await waitUntil(async () => (await readLog(t.app, { liveChatId })).ids.length >= 30 || undefined);
    replica = await startSecondReplica(t, { events: deliveringConfig({ subscriptionConcurrency: CONCURRENCY, deliveryTimeoutMs: 60_000 }) });
    // The worker reaches the receiver, which holds every request it gets.
    await waitUntil(() => receiver.requests.length >= CONCURRENCY || undefined, { what: 'the receiver to be called' });
    // Every session's event is in the log, and more sessions still come at once.
    const later = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Later', emails: ['later@hang.example'] } });
    expect(later.statusCode).toBe(201);
    const log = await call(t.app, 'GET', `/events?liveChatId=${liveChatId}&limit=500`);
    expect(log.data.items).toHaveLength(31);
    // Bounded: the dead receiver holds at most its subscription's concurrency, the rest wait in the outbox.
    expect(mostOpen).toBe(CONCURRENCY);
    expect(receiver.requests).toHaveLength(CONCURRENCY);
  });
});
