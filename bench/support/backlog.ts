import type { ScratchDatabase } from './scratch-database.js';
import { sleep } from './stats.js';

/** Work the service has accepted and not finished: messages to send, events to deliver. */
export interface Backlog {
  /** Outbound messages waiting in the outbox (status queued, leased or not). */
  queuedMessages: number;
  /** Event deliveries not yet delivered or failed. */
  pendingDeliveries: number;
  /** Events in the log past an active subscription's position (not yet sent, or in a window being sent), summed over them. */
  eventsBehind: number;
}

export async function readBacklog(db: ScratchDatabase): Promise<Backlog> {
  const [row] = await db.query<{ queued: number; pending: number; behind: number }>(`
    SELECT (SELECT count(*) FROM messages WHERE status = 'queued')::int AS queued,
           (SELECT count(*) FROM event_deliveries WHERE status = 'pending')::int AS pending,
           (SELECT count(*) FROM event_subscriptions AS s
            JOIN events AS e ON (e.xid, e.position) > (s.after_xid, s.after_position)
            WHERE s.status = 'active')::int AS behind`);
  return { queuedMessages: row!.queued, pendingDeliveries: row!.pending, eventsBehind: row!.behind };
}

export const isEmpty = (b: Backlog): boolean => b.queuedMessages === 0 && b.pendingDeliveries === 0 && b.eventsBehind === 0;

export const describeBacklog = (b: Backlog): string =>
  `${b.queuedMessages} messages queued, ${b.pendingDeliveries} event deliveries pending` +
  (b.eventsBehind > 0 ? `, ${b.eventsBehind} events not yet sent to a subscription` : '');

export interface Drain {
  drained: boolean;
  /** Seconds until the outbox was empty, and until the event deliveries were too; null if not within the timeout. */
  outboxSeconds: number | null;
  eventsSeconds: number | null;
  /** What was left when it stopped looking (nothing if drained). */
  left: Backlog;
}

/**
 * Waits until the outbox and the event deliveries are empty, looking every 250 ms, for at most
 * `timeoutSeconds`. Never hangs: the answer says whether it drained, when each part emptied,
 * and what was left.
 */
export async function waitForDrain(db: ScratchDatabase, timeoutSeconds: number): Promise<Drain> {
  const started = performance.now();
  let outboxSeconds: number | null = null;
  let eventsSeconds: number | null = null;
  for (;;) {
    const left = await readBacklog(db);
    const seconds = (performance.now() - started) / 1000;
    if (outboxSeconds === null && left.queuedMessages === 0) outboxSeconds = seconds;
    if (eventsSeconds === null && left.pendingDeliveries === 0 && left.eventsBehind === 0) eventsSeconds = seconds;
    if (isEmpty(left)) return { drained: true, outboxSeconds, eventsSeconds, left };
    if (seconds >= timeoutSeconds) return { drained: false, outboxSeconds, eventsSeconds, left };
    await sleep(250);
  }
}

/** `outbox 0.4 s, events 2.1 s`, or what did not empty within the timeout. */
export function describeDrain(d: Drain, timeoutSeconds: number): string {
  const part = (seconds: number | null) => (seconds === null ? `NOT within ${timeoutSeconds} s` : `${seconds.toFixed(1)} s`);
  return `outbox ${part(d.outboxSeconds)}, events ${part(d.eventsSeconds)}`;
}
