import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimDeliveries } from '../../src/events/delivery-claims.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator } from '../support/fixtures.js';
import { anEvent } from './helpers.js';

// The app's webhook worker is off in tests: claims are made here by hand.
describe('claiming webhook deliveries', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('skips a delivery whose event is gone, so that it takes no slot of its subscription', async () => {
    const { liveChatId } = await liveChatWithOperator(t.app, 'telegram');
    const sub = await call(t.app, 'POST', '/event-subscriptions', { url: 'https://93.184.215.14/hooks', liveChatIds: [liveChatId] });
    const event = { ...anEvent(liveChatId), occurredAt: new Date(Date.now() - 60_000) };
    await t.app.services.events.publish([event]);
    await call(t.app, 'POST', `/event-subscriptions/${sub.data.id}/replay`, { since: new Date(0).toISOString() });
    // A delivery left behind by a purge that raced a replay: due before the other, its event deleted.
    await sql`
      INSERT INTO event_deliveries (live_chat_id, event_id, subscription_id, next_attempt_at)
      VALUES (${liveChatId}, ${randomUUID()}, ${sub.data.id}, now() - interval '1 hour')`.execute(t.database.handle.db);

    const claimed = await claimDeliveries(t.database.handle.db, { limit: 10, perSubscription: 1, leaseMs: 30_000 });
    expect(claimed.map((d) => d.event.id)).toEqual([event.id]);
    // Its one slot is taken now: nothing more until the attempt ends.
    expect(await claimDeliveries(t.database.handle.db, { limit: 10, perSubscription: 1, leaseMs: 30_000 })).toEqual([]);
  });
});
