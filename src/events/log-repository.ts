import { type Kysely, type RawBuilder, type Transaction, sql } from 'kysely';
import { deleteInChunks } from '../db/purge.js';
import type { Database } from '../db/types.js';
import type { Event, EventType } from '../domain/event.js';

type Db = Kysely<Database> | Transaction<Database>;

/** An event to append; `id` (the webhook-id) and `occurredAt` default to a new UUID and the transaction's time. */
export interface NewEvent {
  id?: string | undefined;
  type: EventType;
  liveChatId: string;
  occurredAt?: Date | undefined;
  data: Record<string, unknown>;
}

/** A place in the log: after the event of transaction `xid` (xid8, as text) at `position`. */
export interface LogPosition {
  xid: string;
  position: number;
}

/** Before every event. */
export const LOG_START: LogPosition = { xid: '0', position: 0 };

/**
 * Appends events in the caller's transaction, so that they exist exactly when the change does.
 * After the commit the caller tells readers (EventLog.appended): a NOTIFY here, inside the
 * transaction, would serialise every commit.
 */
export async function appendEvents(db: Db, events: readonly NewEvent[]): Promise<Event[]> {
  if (events.length === 0) return [];
  const rows = await db
    .insertInto('events')
    .values(
      events.map((e) => ({
        id: e.id ?? sql<string>`uuid_v7()`,
        type: e.type,
        live_chat_id: e.liveChatId,
        ...(e.occurredAt ? { occurred_at: e.occurredAt } : {}),
        data: JSON.stringify(e.data),
      })),
    )
    .returning(['id', 'type', 'live_chat_id', 'occurred_at', 'data'])
    .execute();
  return rows.map(toEvent);
}

/**
 * For a writer that makes its change in one statement: the INSERT that appends the events
 * `rows` selects, to be a CTE of that statement — `WITH …, appended AS (${insertEventsFrom(sql`
 * SELECT uuid_v7(), 'session.created', s.live_chat_id, s.created_at, jsonb_build_object(…)
 * FROM session AS s`)}) …`. `rows` yields EVENT_COLUMNS in that order; the position and the
 * writing transaction are filled in by the database. Tell readers after the commit, as above.
 */
export function insertEventsFrom(rows: RawBuilder<unknown>): RawBuilder<{ id: string }> {
  return sql<{ id: string }>`INSERT INTO events (${sql.raw(EVENT_COLUMNS.join(', '))}) ${rows} RETURNING id`;
}

/** The columns a single-statement writer supplies: (uuid, text, uuid, timestamptz, jsonb). */
export const EVENT_COLUMNS = ['id', 'type', 'live_chat_id', 'occurred_at', 'data'] as const;

export interface LogQuery {
  after: LogPosition;
  types?: readonly EventType[] | undefined;
  liveChatId?: string | undefined;
  /** The live chats the caller may see (a restricted API key); null or omitted: all. */
  visibleLiveChatIds?: readonly string[] | null | undefined;
  limit: number;
}

export interface LogPage {
  items: Event[];
  /** After the last item, or after the last event looked at when fewer than `limit` matched. */
  next: LogPosition;
}

/** How many events a filtered read looks at per page, at most, to find its matches. */
const FILTERED_SCAN = 2_000;

/**
 * The next events after `after`, in log order. Only events of transactions older than every
 * transaction still running are shown (event_log_horizon, in essence pg_snapshot_xmin): every
 * later write gets a larger xid, so nothing can appear behind the returned position any more,
 * and a reader looping on `next` sees each event exactly once. A `types` filter looks at a bounded window of the log; `next`
 * then moves past the events it looked at, so a reader of rare types never rescans them.
 */
export async function readEvents(db: Db, query: LogQuery): Promise<LogPage> {
  const types = query.types && query.types.length > 0 ? [...query.types] : null;
  const scan = types ? Math.max(query.limit, FILTERED_SCAN) : query.limit;
  const result = await sql<EventRow & { xid: string; position: number | string; matched: boolean }>`
    WITH horizon AS MATERIALIZED (SELECT event_log_horizon() AS xid),
    scanned AS MATERIALIZED (
      SELECT xid, position, type, live_chat_id
      FROM events
      WHERE (xid, position) > (${query.after.xid}::xid8, ${query.after.position}::bigint)
        AND xid < (SELECT xid FROM horizon)
        ${query.liveChatId !== undefined ? sql`AND live_chat_id = ${query.liveChatId}::uuid` : sql``}
        ${query.visibleLiveChatIds ? sql`AND live_chat_id = ANY(${[...query.visibleLiveChatIds]}::uuid[])` : sql``}
      ORDER BY xid, position
      LIMIT ${scan}::integer
    ),
    matched AS (
      SELECT xid, position, live_chat_id FROM scanned
      ${types ? sql`WHERE type = ANY(${types}::text[])` : sql``}
      ORDER BY xid, position
      LIMIT ${query.limit}::integer
    )
    SELECT true AS matched, e.id, e.type, e.live_chat_id, e.occurred_at, e.data, e.xid::text AS xid, e.position
    FROM matched AS m JOIN events AS e ON e.xid = m.xid AND e.position = m.position AND e.live_chat_id = m.live_chat_id
    UNION ALL
    (SELECT false, NULL, NULL, NULL, NULL, NULL, s.xid::text, s.position FROM scanned AS s ORDER BY s.xid DESC, s.position DESC LIMIT 1)
  `.execute(db);
  const rows = result.rows.map((r) => ({ ...r, position: Number(r.position) }));
  const items = rows.filter((r) => r.matched).sort(byLogOrder);
  const last = items.length === query.limit ? items[items.length - 1] : rows.find((r) => !r.matched);
  return { items: items.map(toEvent), next: last ? { xid: last.xid, position: last.position } : query.after };
}

function byLogOrder(a: LogPosition, b: LogPosition): number {
  const byXid = BigInt(a.xid) - BigInt(b.xid);
  return byXid !== 0n ? (byXid < 0n ? -1 : 1) : a.position - b.position;
}

/** Forgets events that occurred before `before`, their deliveries with them; returns how many. */
export async function purgeEvents(db: Db, before: Date): Promise<number> {
  const purged = await deleteInChunks(db, 'events', sql`occurred_at < ${before}`);
  // A window's row is younger than each of its events: once it is past retention, they all are.
  await deleteInChunks(db, 'event_window_deliveries', sql`created_at < ${before}`);
  return purged;
}

interface EventRow {
  id: string;
  type: string;
  live_chat_id: string;
  occurred_at: Date | string;
  data: Record<string, unknown>;
}

export function toEvent(row: EventRow): Event {
  return { id: row.id, type: row.type as EventType, occurredAt: new Date(row.occurred_at), liveChatId: row.live_chat_id, data: row.data };
}
