import { randomUUID } from 'node:crypto';
import type { App } from '../../src/app.js';
import type { EventsConfig } from '../../src/config.js';
import type { EventType } from '../../src/domain/event.js';
import type { NewEvent } from '../../src/events/log-repository.js';
import { call, testConfig } from '../support/app.js';

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
