import { type RawBuilder, sql } from 'kysely';
import type { EventType } from '../domain/event.js';

// Events written by the statement that makes the change, from the rows it wrote: the snapshot
// is built in SQL, so the change and its event cost one statement, and the event exists
// exactly when the change does. The API's own mapping is src/sessions/model.ts; the emission
// tests hold the two to the same JSON.
//
// Each field is read from the row's own column: converting the whole row (to_jsonb) and taking
// fields out of that, timestamps parsed back from text, cost four times as much per snapshot.

/** A timestamp column as the API writes it: RFC 3339 in UTC, to the millisecond; NULL stays NULL. */
export const apiTime = (column: string): string => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The Session JSON of the sessions row `s`, as jsonb. */
function sessionJson(s: string): string {
  return `jsonb_build_object(
      'id', ${s}.id, 'liveChatId', ${s}.live_chat_id, 'channel', ${s}.channel, 'contactId', ${s}.contact_id,
      'account', ${s}.account, 'operatorId', ${s}.operator_id, 'origin', ${s}.origin, 'status', ${s}.status,
      'createdAt', ${apiTime(`${s}.created_at`)}, 'updatedAt', ${apiTime(`${s}.updated_at`)}, 'closedAt', ${apiTime(`${s}.closed_at`)})`;
}

/** The Message JSON of the messages row `m`, as jsonb. */
function messageJson(m: string): string {
  return `jsonb_build_object(
      'id', ${m}.id, 'sessionId', ${m}.session_id, 'direction', ${m}.direction, 'kind', ${m}.kind,
      'text', ${m}.text, 'template', ${m}.template, 'media', ${m}.media, 'subject', ${m}.subject,
      'status', ${m}.status, 'providerMessageId', ${m}.provider_message_id, 'error', ${m}.error,
      'attempts', ${m}.attempts, 'createdAt', ${apiTime(`${m}.created_at`)}, 'updatedAt', ${apiTime(`${m}.updated_at`)})`;
}

/**
 * An INSERT appending a `type` event for each session row of `rows` (the name of a CTE or table
 * expression whose rows are whole sessions rows), its data `{ session }`. For a CTE of that statement.
 */
export function sessionEvents(type: EventType, rows: string): RawBuilder<unknown> {
  return sql`
    INSERT INTO events (id, type, live_chat_id, data)
    SELECT uuid_v7(), ${sql.lit(type)}, s.live_chat_id, jsonb_build_object('session', ${sql.raw(sessionJson('s'))})
    FROM ${sql.raw(rows)} AS s`;
}

/**
 * An INSERT appending an event for each message row of `rows` (a CTE's name; whole messages
 * rows), its data `{ message, session }`; `type` is the event type, or an SQL expression of the
 * row `m` (`'message.' || m.status`).
 */
export function messageEvents(type: EventType | RawBuilder<string>, rows: string): RawBuilder<unknown> {
  const typeSql = typeof type === 'string' ? sql.lit(type) : type;
  return sql`
    INSERT INTO events (id, type, live_chat_id, data)
    SELECT uuid_v7(), ${typeSql}, m.live_chat_id,
           jsonb_build_object('message', ${sql.raw(messageJson('m'))}, 'session', ${sql.raw(sessionJson('s'))})
    FROM ${sql.raw(rows)} AS m JOIN sessions AS s ON s.id = m.session_id`;
}

/** Wakes readers and the webhook worker once events were committed (EventLog.appended). */
export interface EventsAppended {
  appended(): void;
}

export const noEventsAppended: EventsAppended = { appended() {} };
