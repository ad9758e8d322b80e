import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventRetention } from '../../src/events/retention.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator } from '../support/fixtures.js';
import { anEvent, readLog } from './helpers.js';

const DAY_MS = 24 * 60 * 60_000;

describe('event retention', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('forgets events older than the retention, with their deliveries, and keeps the rest', async () => {
    const { liveChatId } = await liveChatWithOperator(t.app, 'telegram');
    const sub = await call(t.app, 'POST', '/event-subscriptions', { url: 'https://93.184.215.14/hooks', liveChatIds: [liveChatId] });
    const old = { ...anEvent(liveChatId), occurredAt: new Date(t.clock.now().getTime() - 8 * DAY_MS) };
    const kept = { ...anEvent(liveChatId), occurredAt: new Date(t.clock.now().getTime() - 6 * DAY_MS) };
    await t.app.services.events.publish([old, kept]);
    await call(t.app, 'POST', `/event-subscriptions/${sub.data.id}/replay`, { since: new Date(0).toISOString() });

    const purged = await new EventRetention(t.database.handle.db, t.clock, 7, pino({ level: 'silent' })).purge();

    expect(purged).toBe(1);
    expect((await readLog(t.app)).ids).toEqual([kept.id]);
    const deliveries = await call(t.app, 'GET', `/event-subscriptions/${sub.data.id}/deliveries`);
    expect(deliveries.data.items.map((d: { eventId: string }) => d.eventId)).toEqual([kept.id]);
  });
});
