import { type Kysely, type Transaction, sql } from 'kysely';
import type { Database } from '../db/types.js';
import { eventJsonText } from '../domain/event.js';
import { violatedUniqueConstraint } from '../db/errors.js';
import { apiTime } from './snapshots.js';
import type { AttemptResult } from './delivery-claims.js';

type Db = Kysely<Database> | Transaction<Database>;

/**
 * A subscription's next events, taken from the log under a lease: sent straight from here with
 * at most `slots` in flight, then written with their outcomes in one statement (recordWindow).
 */
export interface LogWindow {
  subscriptionId: string;
  url: string;
  sealedSecrets: string;
  previousSecretExpiresAt: Date | null;
  /** The lease; also the window's identity: its outcomes are only written while it still matches. */
  leaseUntil: Date;
  /** Webhooks in flight at once for this window (its subscription's limit less its retries in flight). */
  slots: number;
  /** Where the subscription's position moves once the window is written. */
  end: { xid: string; position: number };
  /** The window's read was a full scan: its subscription has more to read as soon as it is written (a backlog). */
  full: boolean;
  events: WindowEvent[];
}

/** An event of a window as it is sent: its webhook body (the Event JSON) made from the log's text, never parsed. */
export interface WindowEvent {
  id: string;
  liveChatId: string;
  body: string;
}

export interface WindowClaim {
  windows: LogWindow[];
  /**
   * A subscription moved past a full scan without a window (none of it matched): it may be read
   * again at once. A window's own full scan is its `full`: its subscription is held until it ends.
   */
  more: boolean;
}

/**
 * Claims up to `maxWindows` windows of up to `maxEvents` log events each, in one round trip
 * (migration 0019). Several replicas may claim at once: a subscription is read by one at a time.
 */
export async function claimWindows(db: Db, options: { maxWindows: number; maxEvents: number; perSubscription: number; leaseMs: number }): Promise<WindowClaim> {
  const { rows } = await sql<{
    subscription_id: string;
    url: string;
    secrets: string;
    previous_ms: number | null;
    lease_ms: number | null;
    slots: number;
    end_xid: string;
    end_position: string | number;
    full_scan: boolean;
    event_id: string | null;
    live_chat_id: string;
    type: string;
    occurred_at: string;
    data: string;
  }>`
    -- Times as numbers and the event's as the text it is sent as: parsing a timestamp for each
    -- event's row (three of them) cost more than making its body.
    SELECT subscription_id, url, secrets, slots, end_xid, end_position, full_scan,
      (extract(epoch FROM previous_secret_expires_at) * 1000)::float8 AS previous_ms,
      (extract(epoch FROM lease_until) * 1000)::float8 AS lease_ms,
      event_id, live_chat_id, type, data::text AS data,
      ${sql.raw(apiTime('occurred_at'))} AS occurred_at
    FROM claim_event_windows(${options.maxWindows}::integer, ${options.maxEvents}::integer, ${options.perSubscription}::integer, ${options.leaseMs}::integer)
  `.execute(db);
  const windows = new Map<string, LogWindow>();
  let more = false;
  for (const row of rows) {
    if (row.lease_ms === null || row.event_id === null) {
      more ||= row.full_scan;
      continue;
    }
    let window = windows.get(row.subscription_id);
    if (!window) {
      window = {
        subscriptionId: row.subscription_id,
        url: row.url,
        sealedSecrets: row.secrets,
        previousSecretExpiresAt: row.previous_ms === null ? null : new Date(Math.round(row.previous_ms)),
        leaseUntil: new Date(Math.round(row.lease_ms)),
        slots: row.slots,
        end: { xid: String(row.end_xid), position: Number(row.end_position) },
        full: row.full_scan,
        events: [],
      };
      windows.set(row.subscription_id, window);
    }
    // The snapshot as Postgres prints its jsonb, never parsed.
    const body = eventJsonText({ id: row.event_id, type: row.type, occurredAt: row.occurred_at, liveChatId: row.live_chat_id }, row.data);
    window.events.push({ id: row.event_id, liveChatId: row.live_chat_id, body });
  }
  return { windows: [...windows.values()], more };
}

/** An event of a window: its attempt's result, or untried (due again at once, no attempt counted). */
export type WindowOutcome = { event: Pick<WindowEvent, 'id' | 'liveChatId'>; result: AttemptResult | 'untried' };

/**
 * Ends a window while its lease still holds: writes its outcomes (those a replay queued
 * meanwhile are left as they are: they go out again), moves the subscription's position past
 * the window (never backwards: a resumed subscription starts later) and frees its slots, in one
 * statement. The events delivered at this first attempt make one row for the window
 * (event_window_deliveries, migration 0020); each of the others a delivery, due for its retry.
 * False when the lease no longer held (another replica took the window again after it ran
 * out); then nothing is written.
 */
export async function recordWindow(db: Db, window: Pick<LogWindow, 'subscriptionId' | 'leaseUntil' | 'end'>, outcomes: readonly WindowOutcome[]): Promise<boolean> {
  try {
    return await writeWindow(db, window, outcomes);
  } catch (error) {
    // A replay queued one of its events between the statement's look and its insert: the
    // next look sees that delivery and leaves it be.
    if (violatedUniqueConstraint(error) === null) throw error;
    return writeWindow(db, window, outcomes);
  }
}

async function writeWindow(db: Db, window: Pick<LogWindow, 'subscriptionId' | 'leaseUntil' | 'end'>, outcomes: readonly WindowOutcome[]): Promise<boolean> {
  const status = (o: WindowOutcome) => (o.result === 'untried' ? 'pending' : o.result.status);
  const delay = (o: WindowOutcome) => (o.result !== 'untried' && o.result.status === 'pending' ? Math.max(0, Math.round(o.result.delayMs)) : 0);
  const { rows } = await sql<{ held: boolean }>`
    WITH moved AS (
      UPDATE event_subscriptions AS s
      SET after_xid = CASE WHEN (s.after_xid, s.after_position) < (${window.end.xid}::xid8, ${window.end.position}::bigint) THEN ${window.end.xid}::xid8 ELSE s.after_xid END,
          after_position = CASE WHEN (s.after_xid, s.after_position) < (${window.end.xid}::xid8, ${window.end.position}::bigint) THEN ${window.end.position}::bigint ELSE s.after_position END,
          window_until = NULL,
          window_slots = 0
      WHERE s.id = ${window.subscriptionId} AND s.window_until = ${window.leaseUntil.toISOString()}::timestamptz
      RETURNING s.id
    ),
    -- The outcomes to write: those of events that have no delivery for the subscription (a
    -- replay queued meanwhile keeps its own). Not ON CONFLICT below: its speculative insertion
    -- cost half again as much as the insert itself.
    outcome AS (
      SELECT m.id AS subscription_id, v.*
      FROM moved AS m
      CROSS JOIN unnest(
        ${outcomes.map((o) => o.event.liveChatId)}::uuid[],
        ${outcomes.map((o) => o.event.id)}::uuid[],
        ${outcomes.map(status)}::text[],
        ${outcomes.map((o) => (o.result === 'untried' ? 0 : 1))}::integer[],
        ${outcomes.map(delay)}::integer[],
        ${outcomes.map((o) => (o.result === 'untried' ? null : o.result.statusCode))}::integer[],
        ${outcomes.map((o) => (o.result === 'untried' || o.result.status === 'delivered' ? null : o.result.error))}::text[]
      ) AS v(live_chat_id, event_id, status, attempts, delay_ms, status_code, error)
      WHERE NOT EXISTS (
        SELECT FROM event_deliveries AS d WHERE d.live_chat_id = v.live_chat_id AND d.event_id = v.event_id AND d.subscription_id = m.id
      )
    ),
    windowed AS (
      INSERT INTO event_window_deliveries (subscription_id, event_ids, live_chat_ids, status_codes)
      SELECT o.subscription_id, array_agg(o.event_id), array_agg(o.live_chat_id), array_agg(o.status_code)
      FROM outcome AS o
      WHERE o.status = 'delivered'
      GROUP BY o.subscription_id
    ),
    written AS (
      INSERT INTO event_deliveries (live_chat_id, event_id, subscription_id, status, attempts, next_attempt_at, last_status_code, last_error)
      SELECT o.live_chat_id, o.event_id, o.subscription_id, o.status, o.attempts,
        CASE WHEN o.status = 'pending' THEN now() + o.delay_ms * interval '1 millisecond' END,
        o.status_code, o.error
      FROM outcome AS o
      WHERE o.status <> 'delivered'
    )
    SELECT EXISTS (SELECT FROM moved) AS held
  `.execute(db);
  return rows[0]?.held ?? false;
}
