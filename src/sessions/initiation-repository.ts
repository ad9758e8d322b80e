import { type Kysely, sql } from 'kysely';
import type { QueryRunner } from '../db/prepared.js';
import type { Database, MessageRow, SessionRow } from '../db/types.js';
import type { ChannelType } from '../domain/channel.js';
import type { MessageContent } from '../domain/message.js';
import { sessionEvents } from '../events/snapshots.js';
import type { OutboxEntry } from './outbound-queue.js';

/** A new session, with its contact (given, or to create) and its optional first message. */
export interface CreateWrite {
  kind: 'create';
  liveChatId: string;
  channel: ChannelType;
  operatorId: string;
  /** An existing contact, or the details of one to create (the account already among them). */
  contact: { id: string } | { name: string; phones: string[]; emails: string[] };
  account: string;
  /** The existing contact's column the account belongs in (added unless there), or null. */
  addAccountTo: 'phones' | 'emails' | null;
  peer: string;
  message: MessageContent | null;
  outbox: OutboxEntry;
  at: Date;
}

/** A closed session opened again for an operator, with its optional message. */
export interface ReopenWrite {
  kind: 'reopen';
  sessionId: string;
  operatorId: string;
  message: MessageContent | null;
  outbox: OutboxEntry;
  at: Date;
}

export type InitiationWrite = CreateWrite | ReopenWrite;

export interface WrittenInitiation {
  session: SessionRow;
  message: MessageRow | null;
}

// The written rows come back as plain columns (the message's prefixed), so the driver parses
// their types, and writtenOf maps them in one place.
const RESULT_COLUMNS = sql.raw(`
  x.i, s.id, s.live_chat_id, s.channel, s.contact_id, s.account, s.peer, s.operator_id, s.origin, s.status, s.created_at, s.updated_at, s.closed_at,
  m.id AS m_id, m.direction AS m_direction, m.kind AS m_kind, m.text AS m_text, m.template AS m_template, m.media AS m_media,
  m.subject AS m_subject, m.status AS m_status,
  m.provider_message_id AS m_provider_message_id, m.provider_recipient AS m_provider_recipient, m.error AS m_error,
  m.attempts AS m_attempts, m.next_attempt_at AS m_next_attempt_at, m.locked_until AS m_locked_until, m.seq AS m_seq,
  m.created_at AS m_created_at, m.updated_at AS m_updated_at`);

// Its message, queued in the outbox as delivery's entry says, for each written session. An
// email always has a subject: the one given, else "Re: " the session's first one, else the
// live chat's name.
const MESSAGE_INSERT = sql.raw(`
  INSERT INTO messages (session_id, live_chat_id, direction, kind, text, template, subject, status, next_attempt_at, locked_until, attempts, created_at, updated_at)
  SELECT w.id, w.live_chat_id, 'outbound', CASE WHEN x.template IS NULL THEN 'text' ELSE 'template' END, x.text, x.template,
         CASE WHEN w.channel = 'email' THEN coalesce(x.subject, ${replySubject('w.id')}, (SELECT l.name FROM live_chats AS l WHERE l.id = w.live_chat_id)) END,
         'queued', x.at, x.locked_until, x.attempts, x.at, x.at
  FROM written AS w JOIN input AS x ON x.sid = w.id
  WHERE x.has_message
  ORDER BY x.i
  RETURNING *`);

type ResultRow = SessionRow & { i: number } & { [K in keyof MessageRow as `m_${K & string}`]: MessageRow[K] | null };

/**
 * Many new sessions as one statement, so that they cost one round trip and one commit between
 * them, each as atomic as if it were alone: its contact (created, or extended by an account it
 * lacks), its open session and its queued message are written together or not at all.
 *
 * Each written session's `session.created` event is appended by the same statement.
 * Only the race guards are here, not the rules: a session is written only while its operator
 * is assigned, its contact (if given) exists and no open session holds the same person
 * (`ON CONFLICT DO NOTHING` on the open-session indexes, also between writes of one statement).
 * One not written leaves nothing — not even its inline contact — and gets undefined; the caller
 * asks the rules why. The text does not depend on the writes: Postgres prepares it once.
 * Two writes must not extend the same existing contact (InitiationWriter keeps them apart).
 */
export async function writeCreates(db: Kysely<Database>, writes: readonly CreateWrite[], run: QueryRunner): Promise<(WrittenInitiation | undefined)[]> {
  const input = writes.map((w, i) => ({
    i,
    live_chat_id: w.liveChatId,
    channel: w.channel,
    operator_id: w.operatorId,
    contact_id: 'id' in w.contact ? w.contact.id : null,
    name: 'id' in w.contact ? null : w.contact.name,
    phones: 'id' in w.contact ? null : w.contact.phones,
    emails: 'id' in w.contact ? null : w.contact.emails,
    account: w.account,
    add_to: 'id' in w.contact ? w.addAccountTo : null,
    peer: w.peer,
    ...messageInput(w),
  }));
  // `sid` ties each session written back to its write; `cid` is its contact's id, given or new.
  // Sessions go first so that only written ones get a contact and a message; the foreign key
  // to the contact is checked at the end of the statement.
  const query = sql<ResultRow>`
    WITH input AS MATERIALIZED (
      SELECT x.*, gen_random_uuid() AS sid, coalesce(x.contact_id, gen_random_uuid()) AS cid
      FROM jsonb_to_recordset(${json(input)}::jsonb) AS x(
        i integer, live_chat_id uuid, channel text, operator_id text, contact_id uuid, name text, phones text[], emails text[],
        account text, add_to text, peer text, has_message boolean, text text, template jsonb, subject text, locked_until timestamptz, attempts integer, at timestamptz)
    ),
    written AS (
      INSERT INTO sessions (id, live_chat_id, channel, contact_id, account, peer, operator_id, status)
      SELECT x.sid, x.live_chat_id, x.channel, x.cid, x.account, x.peer, x.operator_id, 'open'
      FROM input AS x
      WHERE EXISTS (SELECT 1 FROM live_chat_operators AS o WHERE o.live_chat_id = x.live_chat_id AND o.operator_id = x.operator_id)
        AND (x.contact_id IS NULL OR EXISTS (SELECT 1 FROM contacts AS c WHERE c.id = x.contact_id))
      ORDER BY x.live_chat_id, x.account
      ON CONFLICT DO NOTHING
      RETURNING *
    ),
    new_contact AS (
      INSERT INTO contacts (id, name, phones, emails, created_at, updated_at)
      SELECT x.cid, x.name, x.phones, x.emails, now(), now() FROM written AS w JOIN input AS x ON x.sid = w.id WHERE x.contact_id IS NULL
      RETURNING id
    ),
    extended_contact AS (
      UPDATE contacts AS c
      SET phones = CASE WHEN x.add_to = 'phones' THEN array_append(c.phones, x.account) ELSE c.phones END,
          emails = CASE WHEN x.add_to = 'emails' THEN array_append(c.emails, x.account) ELSE c.emails END,
          updated_at = x.at
      FROM written AS w JOIN input AS x ON x.sid = w.id
      WHERE c.id = x.contact_id
        AND ((x.add_to = 'phones' AND NOT x.account = ANY(c.phones)) OR (x.add_to = 'emails' AND NOT x.account = ANY(c.emails)))
      RETURNING c.id
    ),
    message AS (${MESSAGE_INSERT}),
    created AS (${sessionEvents('session.created', 'written')})
    SELECT ${RESULT_COLUMNS}
    FROM written AS s
    JOIN input AS x ON x.sid = s.id
    LEFT JOIN message AS m ON m.session_id = s.id
  `.compile(db);
  return resultsByWrite(writes.length, await run(query));
}

/**
 * Many reopenings as one statement, guarded like writeCreates: a session opens again only if
 * it is still closed, its new operator is assigned, and no other open session holds the same
 * person (checked here, and by the open-session indexes against a concurrent write, which then
 * fail the statement with a unique violation).
 */
export async function writeReopens(db: Kysely<Database>, writes: readonly ReopenWrite[], run: QueryRunner): Promise<(WrittenInitiation | undefined)[]> {
  const input = writes.map((w, i) => ({ i, sid: w.sessionId, operator_id: w.operatorId, ...messageInput(w) }));
  const query = sql<ResultRow>`
    WITH input AS MATERIALIZED (
      SELECT * FROM jsonb_to_recordset(${json(input)}::jsonb) AS x(
        i integer, sid uuid, operator_id text, has_message boolean, text text, template jsonb, subject text, locked_until timestamptz, attempts integer, at timestamptz)
    ),
    written AS (
      UPDATE sessions AS s
      SET status = 'open', operator_id = x.operator_id, closed_at = NULL, updated_at = x.at
      FROM input AS x
      WHERE s.id = x.sid AND s.status = 'closed'
        AND EXISTS (SELECT 1 FROM live_chat_operators AS o WHERE o.live_chat_id = s.live_chat_id AND o.operator_id = x.operator_id)
        AND NOT EXISTS (
          SELECT 1 FROM sessions AS h
          WHERE h.live_chat_id = s.live_chat_id AND h.status = 'open' AND (h.account = s.account OR h.contact_id = s.contact_id OR h.peer = s.peer))
      RETURNING s.*
    ),
    message AS (${MESSAGE_INSERT}),
    reopened AS (${sessionEvents('session.reopened', 'written')})
    SELECT ${RESULT_COLUMNS}
    FROM written AS s
    JOIN input AS x ON x.sid = s.id
    LEFT JOIN message AS m ON m.session_id = s.id
  `.compile(db);
  return resultsByWrite(writes.length, await run(query));
}

function messageInput(w: InitiationWrite) {
  return {
    has_message: w.message !== null,
    text: w.message?.text ?? null,
    template: w.message?.template ?? null,
    subject: w.message?.subject ?? null,
    locked_until: w.outbox.lockedUntil?.toISOString() ?? null,
    attempts: w.outbox.attempts,
    at: w.at.toISOString(),
  };
}

function resultsByWrite(count: number, rows: ResultRow[]): (WrittenInitiation | undefined)[] {
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
function json(input: unknown): string {
  return JSON.stringify(input, (_key, value: unknown) => (typeof value === 'string' ? value.replace(LONE_SURROGATES, '\uFFFD') : value));
}
const LONE_SURROGATES = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
