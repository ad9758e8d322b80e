import { randomUUID } from 'node:crypto';
import type { App } from '../../src/app.js';
import type { EventsConfig } from '../../src/config.js';
import type { EventType } from '../../src/domain/event.js';
import type { NewEvent } from '../../src/events/log-repository.js';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../src/db/types.js';
import { type LogWindow, claimWindows } from '../../src/events/log-windows.js';
import { call, testConfig } from '../support/app.js';
import { liveChatWithOperator } from '../support/fixtures.js';

/** The events settings of the test configuration with these changed. */
export function eventsConfig(overrides: Partial<EventsConfig> = {}): EventsConfig {
  return { ...testConfig().events, ...overrides };
}

/**
 * Webhooks on, to receivers on 127.0.0.1 over plain HTTP, retried within milliseconds, a poll
 * every 20 ms: what the delivery tests run with.
 */
export function deliveringConfig(overrides: Partial<EventsConfig> = {}): EventsConfig {
  return eventsConfig({ deliveryEnabled: true, allowHttp: true, allowPrivate: true, retryBaseMs: 20, retryMaxMs: 100, deliveryTimeoutMs: 2_000, ...overrides });
}

/** An event as a writer would append it, with a snapshot that names it. */
export function anEvent(liveChatId: string, type: EventType = 'session.created', label = randomUUID()): NewEvent & { id: string } {
  return { id: randomUUID(), type, liveChatId, data: { session: { id: randomUUID(), label } } };
}

/** Reads GET /events from `after` by looping on nextCursor until a page comes back empty. */
export async function readLog(app: App, query: Record<string, string> = {}, after?: string): Promise<{ ids: string[]; cursor: string }> {
  const ids: string[] = [];
  let cursor = after;
  for (;;) {
    const params = new URLSearchParams({ ...query, ...(cursor ? { after: cursor } : {}) });
    const page = await call(app, 'GET', `/events?${params}`);
    if (page.statusCode !== 200) throw new Error(`GET /events answered ${page.statusCode}: ${page.body}`);
    ids.push(...page.data.items.map((e: { id: string }) => e.id));
    const next: string = page.data.nextCursor;
    if (page.data.items.length === 0) return { ids, cursor: next };
    cursor = next;
  }
}

/**
 * A subscription of a live chat of its own, to a public address nothing is sent to (for tests
 * that claim and write windows by hand; other subscriptions' windows are left out of them).
 */
export async function windowSubscription(app: App, extra: Record<string, unknown> = {}): Promise<{ id: string; liveChatId: string }> {
  const { liveChatId } = await liveChatWithOperator(app, 'telegram');
  const created = await call(app, 'POST', '/event-subscriptions', { url: 'https://93.184.215.14/hooks', liveChatIds: [liveChatId], ...extra });
  if (created.statusCode !== 201) throw new Error(`POST /event-subscriptions answered ${created.statusCode}: ${created.body}`);
  return { id: created.data.id as string, liveChatId };
}

/** Claims windows and returns the subscription's; other subscriptions' are given back untouched (their leases cleared). */
export async function claimWindowOf(
  db: Kysely<Database>,
  subscriptionId: string,
  options: Parameters<typeof claimWindows>[1],
): Promise<LogWindow | undefined> {
  const { windows } = await claimWindows(db, options);
  await sql`UPDATE event_subscriptions SET window_until = NULL, window_slots = 0 WHERE id <> ${subscriptionId}`.execute(db);
  return windows.find((w) => w.subscriptionId === subscriptionId);
}
