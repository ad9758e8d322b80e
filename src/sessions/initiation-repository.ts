import { type Kysely, sql } from 'kysely';
import type { QueryRunner } from '../db/prepared.js';
import type { Database, MessageRow, SessionRow } from '../db/types.js';
import type { ChannelType } from '../domain/channel.js';
import type { MessageContent } from '../domain/message.js';
import { sessionEvents } from '../events/snapshots.js';
import { MESSAGE_INSERT, RESULT_COLUMNS, type ResultRow, json, messageInput, resultsByWrite } from './initiation-rows.js';
import type { OutboxEntry } from './outbound-queue.js';
import { catalogueGuard, consentGuard } from './write-guards.js';

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
  /** The accounts an opt-out of the person is recorded under (see consentKeys): none may be. */
  consentKeys: string[];
  message: MessageContent | null;
  /** The template catalogue's version check 6 was made against (see catalogueGuard); null: not checked. */
  catalogueVersion: number | null;
  outbox: OutboxEntry;
  at: Date;
  /**
   * The batch recipient this session is for, held by a claim until `lease`: the session is
   * written only while the claim holds, and the recipient is marked created with it.
   */
  recipient?: BatchRecipientRef | undefined;
}

/** A session batch's recipient, as its claim holds it. */
export interface BatchRecipientRef {
  batchId: string;
  index: number;
  lease: Date;
}

/** A closed session opened again for an operator, with its optional message. */
export interface ReopenWrite {
  kind: 'reopen';
  sessionId: string;
  operatorId: string;
  message: MessageContent | null;
  catalogueVersion: number | null;
  outbox: OutboxEntry;
  at: Date;
}

export type InitiationWrite = CreateWrite | ReopenWrite;

export interface WrittenInitiation {
  session: SessionRow;
  message: MessageRow | null;
}

/**
 * Many new sessions as one statement, so that they cost one round trip and one commit between
 * them, each as atomic as if it were alone: its contact (created, or extended by an account it
 * lacks), its open session and its queued message are written together or not at all.
 *
 * Each written session's `session.created` event is appended by the same statement.
 * Only the race guards are here, not the rules: a session is written only while its operator
 * is assigned, its contact (if given) exists, the person has not opted out, the template
 * catalogue is as checked, and no open session holds the same person
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
    consent_keys: w.consentKeys,
    batch_id: w.recipient?.batchId ?? null,
    recipient_index: w.recipient?.index ?? null,
    recipient_lease: w.recipient?.lease.toISOString() ?? null,
    ...messageInput(w),
  }));
  // `sid` ties each session written back to its write; `cid` is its contact's id, given or new.
  // Sessions go first so that only written ones get a contact and a message; the foreign key
  // to the contact is checked at the end of the statement.
  const query = sql<ResultRow>`
    WITH input AS MATERIALIZED (
      SELECT x.*, uuid_v7() AS sid, coalesce(x.contact_id, uuid_v7()) AS cid
      FROM jsonb_to_recordset(${json(input)}::jsonb) AS x(
        i integer, live_chat_id uuid, channel text, operator_id text, contact_id uuid, name text, phones text[], emails text[],
        account text, add_to text, peer text, consent_keys text[], batch_id uuid, recipient_index integer, recipient_lease timestamptz,
        has_message boolean, text text, template jsonb, subject text, catalogue_version integer, locked_until timestamptz, attempts integer, at timestamptz)
    ),
    -- A batch recipient's session is written only while its claim holds (locked against a
    -- cancel, which then waits for this statement).
    held AS MATERIALIZED (
      SELECT x.sid FROM input AS x
      JOIN batch_recipients AS r ON r.live_chat_id = x.live_chat_id AND r.batch_id = x.batch_id AND r.index = x.recipient_index
      WHERE r.outcome = 'pending' AND r.locked_until = x.recipient_lease
      FOR UPDATE OF r
    ),
    written AS (
      INSERT INTO sessions (id, live_chat_id, channel, contact_id, account, peer, operator_id, status)
      SELECT x.sid, x.live_chat_id, x.channel, x.cid, x.account, x.peer, x.operator_id, 'open'
      FROM input AS x
      WHERE EXISTS (SELECT 1 FROM live_chat_operators AS o WHERE o.live_chat_id = x.live_chat_id AND o.operator_id = x.operator_id)
        AND (x.contact_id IS NULL OR EXISTS (SELECT 1 FROM contacts AS c WHERE c.id = x.contact_id))
        AND ${consentGuard(sql`x.live_chat_id`, sql`x.consent_keys`)}
        AND ${catalogueGuard(sql`x.live_chat_id`, sql`x.catalogue_version`)}
        AND (x.batch_id IS NULL OR x.sid IN (SELECT sid FROM held))
      ORDER BY x.live_chat_id, x.account, x.i
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
    created AS (${sessionEvents('session.created', 'written')}),
    recipient AS (
      UPDATE batch_recipients AS r SET outcome = 'created', session_id = x.sid, locked_until = NULL, updated_at = now()
      FROM written AS w JOIN input AS x ON x.sid = w.id
      WHERE r.live_chat_id = x.live_chat_id AND r.batch_id = x.batch_id AND r.index = x.recipient_index
    )
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
        i integer, sid uuid, operator_id text, has_message boolean, text text, template jsonb, subject text, catalogue_version integer,
        locked_until timestamptz, attempts integer, at timestamptz)
    ),
    written AS (
      UPDATE sessions AS s
      SET status = 'open', operator_id = x.operator_id, closed_at = NULL, updated_at = x.at
      FROM input AS x
      WHERE s.id = x.sid AND s.status = 'closed'
        AND EXISTS (SELECT 1 FROM live_chat_operators AS o WHERE o.live_chat_id = s.live_chat_id AND o.operator_id = x.operator_id)
        AND ${consentGuard(sql`s.live_chat_id`, sql`ARRAY[s.account, s.peer]`)}
        AND ${catalogueGuard(sql`s.live_chat_id`, sql`x.catalogue_version`)}
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

