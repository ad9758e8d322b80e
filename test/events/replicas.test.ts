import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { type DatabaseHandle, connectDatabase } from '../../src/db/connection.js';
import { type TestApp, call, createTestApp, testConfig } from '../support/app.js';
import { usingPostgres } from '../support/database.js';
import { liveChatWithOperator } from '../support/fixtures.js';
import { HttpStandIn, waitUntil } from '../support/http-stand-in.js';
import { anEvent, deliveringConfig } from './helpers.js';

// Replicas share one Postgres; PGlite is one process's own database.
describe.skipIf(!usingPostgres)('webhooks from two replicas (Postgres)', () => {
  const config = { events: deliveringConfig({ subscriptionConcurrency: 2 }) };
  let t: TestApp;
  let secondDatabase: DatabaseHandle;
  let second: App;
  let hooks: HttpStandIn;
  let inFlight = 0;
  let mostInFlight = 0;

  beforeAll(async () => {
    hooks = await HttpStandIn.start(async () => {
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      await sleep(30);
      inFlight -= 1;
      return { status: 204, body: null };
    });
    t = await createTestApp({ config });
    secondDatabase = await connectDatabase({ databaseUrl: t.database.url!, poolSize: 5 });
    second = await buildApp({ config: testConfig(config), database: secondDatabase, clock: t.clock });
    await second.ready();
  });
  afterAll(async () => {
    await second.close();
    await secondDatabase.close();
    await t.close();
    await hooks.close();
  });

  it('deliver each event once between them, never more at once to a subscription than its limit', async () => {
    const { liveChatId } = await liveChatWithOperator(t.app, 'telegram');
    await call(t.app, 'POST', '/event-subscriptions', { url: `${hooks.url}/hooks`, liveChatIds: [liveChatId] });
    const events = Array.from({ length: 20 }, () => anEvent(liveChatId));
    // Half are appended in each replica, so both wake and both claim.
    for (const [i, event] of events.entries()) await (i % 2 ? second : t.app).services.events.publish([event]);

    await waitUntil(() => hooks.requests.length >= events.length, { timeoutMs: 20_000 });
    const ids = hooks.requests.map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(events.map((e) => e.id)));
    expect(mostInFlight).toBeLessThanOrEqual(2);
  });
});
