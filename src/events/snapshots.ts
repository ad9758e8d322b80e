import { type RawBuilder, sql } from 'kysely';
import type { EventType } from '../domain/event.js';

// Events written by the statement that makes the change, from the rows it wrote: the snapshot
// is built in SQL (session_json, message_json: migration 0014), so the change and its event
// cost one statement, and the event exists exactly when the change does.
//
// Each row becomes jsonb once, in a LATERAL subquery that OFFSET 0 keeps from being flattened:
// session_json and message_json are inlined and name their argument once per field, so
// `message_json(to_jsonb(m))` would convert the whole row again for every field (about four
// times the cost of the whole snapshot).

/**
 * An INSERT appending a `type` event for each session row of `rows` (the name of a CTE or table
 * expression whose rows are sessions), its data `{ session }`. For a CTE of that statement.
 */
export function sessionEvents(type: EventType, rows: string): RawBuilder<unknown> {
  return sql`
    INSERT INTO events (id, type, live_chat_id, data)
    SELECT gen_random_uuid(), ${sql.lit(type)}, s.live_chat_id, jsonb_build_object('session', session_json(sj.row))
    FROM ${sql.raw(rows)} AS s CROSS JOIN LATERAL (SELECT to_jsonb(s) AS row OFFSET 0) AS sj`;
}

/**
 * An INSERT appending an event for each message row of `rows` (a CTE's name), its data
 * `{ message, session }`; `type` is the event type, or an SQL expression of the row `m`
 * (`'message.' || m.status`).
 */
export function messageEvents(type: EventType | RawBuilder<string>, rows: string): RawBuilder<unknown> {
  const typeSql = typeof type === 'string' ? sql.lit(type) : type;
  return sql`
    INSERT INTO events (id, type, live_chat_id, data)
    SELECT gen_random_uuid(), ${typeSql}, m.live_chat_id,
           jsonb_build_object('message', message_json(mj.row), 'session', session_json(sj.row))
    FROM ${sql.raw(rows)} AS m JOIN sessions AS s ON s.id = m.session_id
    CROSS JOIN LATERAL (SELECT to_jsonb(m) AS row OFFSET 0) AS mj
    CROSS JOIN LATERAL (SELECT to_jsonb(s) AS row OFFSET 0) AS sj`;
}

/** Wakes readers and the webhook worker once events were committed (EventLog.appended). */
export interface EventsAppended {
  appended(): void;
}

export const noEventsAppended: EventsAppended = { appended() {} };
