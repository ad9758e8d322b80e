import { sql } from 'kysely';
import type { MessageRow, SessionRow } from '../db/types.js';
import type { InitiationWrite, WrittenInitiation } from './initiation-repository.js';

// The written rows come back as plain columns (the message's prefixed), so the driver parses
// their types, and writtenOf maps them in one place.
export const RESULT_COLUMNS = sql.raw(`
  x.i, s.id, s.live_chat_id, s.channel, s.contact_id, s.account, s.peer, s.operator_id, s.origin, s.status, s.created_at, s.updated_at, s.closed_at,
  m.id AS m_id, m.direction AS m_direction, m.kind AS m_kind, m.text AS m_text, m.template AS m_template, m.media AS m_media,
  m.subject AS m_subject, m.status AS m_status,
  m.provider_message_id AS m_provider_message_id, m.provider_recipient AS m_provider_recipient, m.error AS m_error,
  m.attempts AS m_attempts, m.next_attempt_at AS m_next_attempt_at, m.locked_until AS m_locked_until, m.seq AS m_seq,
  m.created_at AS m_created_at, m.updated_at AS m_updated_at`);

// Its message, queued in the outbox as delivery's entry says, for each written session. An
// email always has a subject: the one given, else "Re: " the session's first one, else the
// live chat's name.
export const MESSAGE_INSERT = sql.raw(`
  INSERT INTO messages (session_id, live_chat_id, direction, kind, text, template, subject, status, next_attempt_at, locked_until, attempts, created_at, updated_at)
  SELECT w.id, w.live_chat_id, 'outbound', CASE WHEN x.template IS NULL THEN 'text' ELSE 'template' END, x.text, x.template,
         CASE WHEN w.channel = 'email' THEN coalesce(x.subject, ${replySubject('w.id')}, (SELECT l.name FROM live_chats AS l WHERE l.id = w.live_chat_id)) END,
         'queued', x.at, x.locked_until, x.attempts, x.at, x.at
  FROM written AS w JOIN input AS x ON x.sid = w.id
  WHERE x.has_message
  ORDER BY x.i
  RETURNING *`);

export type ResultRow = SessionRow & { i: number } & { [K in keyof MessageRow as `m_${K & string}`]: MessageRow[K] | null };

export function messageInput(w: InitiationWrite) {
  return {
    has_message: w.message !== null,
    text: w.message?.text ?? null,
    template: w.message?.template ?? null,
    subject: w.message?.subject ?? null,
    catalogue_version: w.catalogueVersion,
    locked_until: w.outbox.lockedUntil?.toISOString() ?? null,
    attempts: w.outbox.attempts,
    at: w.at.toISOString(),
  };
}

export function resultsByWrite(count: number, rows: ResultRow[]): (WrittenInitiation | undefined)[] {
  const results = new Array<WrittenInitiation | undefined>(count).fill(undefined);
  for (const row of rows) results[row.i] = writtenOf(row);
  return results;
}

/** The one mapping of a written row to its session and message rows. */
function writtenOf(row: ResultRow): WrittenInitiation {
  const session: SessionRow = {
    id: row.id,
    live_chat_id: row.live_chat_id,
    channel: row.channel,
    contact_id: row.contact_id,
    account: row.account,
    peer: row.peer,
    operator_id: row.operator_id,
    origin: row.origin,
    status: row.status,
    created_at: row.created_at,
    updated_at: row.updated_at,
    closed_at: row.closed_at,
  };
  if (row.m_id === null) return { session, message: null };
  const message: MessageRow = {
    id: row.m_id,
    session_id: row.id,
    live_chat_id: row.live_chat_id,
    direction: row.m_direction!,
    kind: row.m_kind!,
    text: row.m_text,
    template: row.m_template,
    media: row.m_media,
    subject: row.m_subject,
    status: row.m_status!,
    provider_message_id: row.m_provider_message_id,
    provider_recipient: row.m_provider_recipient,
    error: row.m_error,
    attempts: row.m_attempts!,
    next_attempt_at: row.m_next_attempt_at,
    locked_until: row.m_locked_until,
    seq: Number(row.m_seq),
    created_at: row.m_created_at!,
    updated_at: row.m_updated_at!,
  };
  return { session, message };
}

/** SQL for "Re: " and the first subject of the session `sessionId` (an SQL expression) names, if any. */
export function replySubject(sessionId: string): string {
  return `(SELECT 'Re: ' || regexp_replace(f.subject, '^(\\s*re\\s*:\\s*)+', '', 'i') FROM messages AS f
           WHERE f.session_id = ${sessionId} AND f.subject IS NOT NULL ORDER BY f.seq LIMIT 1)`;
}

/**
 * The writes as one JSON parameter. A lone UTF-16 surrogate cannot travel in JSON to Postgres
 * (jsonb refuses it); as a text parameter it would have been stored as U+FFFD, so that is what
 * it becomes here too.
 */
export function json(input: unknown): string {
  return JSON.stringify(input, (_key, value: unknown) => (typeof value === 'string' ? value.replace(LONE_SURROGATES, '\uFFFD') : value));
}
const LONE_SURROGATES = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
