import { type Kysely, sql } from 'kysely';
import type { QueryRunner } from '../db/prepared.js';
import type { Database, MessageRow, SessionRow } from '../db/types.js';
import type { ChannelType } from '../domain/channel.js';
import type { MessageTemplate } from '../domain/message.js';

export interface InitiationWrite {
  liveChatId: string;
  channel: ChannelType;
  operatorId: string;
  /** An existing contact, or the details of one to create. */
  contact: { id: string } | { name: string; phones: string[]; emails: string[] };
  account: string;
  /** The contact's column the account belongs in (added unless there), or null for a @username. */
  addAccountTo: 'phones' | 'emails' | null;
  peer: string;
  message: { text: string | null; template: MessageTemplate | null } | null;
  /**
   * Queue the message already claimed for this long (ms) by the dispatcher of this process,
   * which is handed it at once (see Dispatcher.handOver); null queues it for any dispatcher.
   */
  leaseMs: number | null;
  at: Date;
}

export interface WrittenInitiation {
  session: SessionRow;
  message: MessageRow | null;
}

/**
 * Many initiations as one statement, so that they cost one round trip and one commit between
 * them, each as atomic as if it were alone: its contact (created or, if the account is new to
 * it, extended), its open session and its queued message are written together or not at all.
 *
 * An initiation is written only while its operator is assigned to its live chat, its contact
 * (if given) exists and no open session holds the same person (`ON CONFLICT DO NOTHING` on the
 * open-session indexes, also between initiations of the same statement). One that is not
 * written leaves nothing behind — not even its inline contact — and gets no entry in the
 * result, whose keys are the indexes into `writes`. The statement's text does not depend on
 * the writes, so Postgres prepares it once per connection.
 *
 * Two writes in one call must not name the same existing contact: the statement would update
 * its row once, so an account added by one of them could be lost. InitiationWriter keeps them
 * apart.
 */
export async function writeInitiations(db: Kysely<Database>, writes: readonly InitiationWrite[], run: QueryRunner): Promise<Map<number, WrittenInitiation>> {
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
    has_message: w.message !== null,
    text: w.message?.text ?? null,
    template: w.message?.template ?? null,
    lease_ms: w.leaseMs,
    at: w.at.toISOString(),
  }));
  // `sid` is the write's session id, which ties each session written back to its write; `cid`
  // its contact's id: the given one, or a new one for the contact to create. Sessions are
  // inserted first so that only the written ones get their contact and message; the foreign
  // key to the contact is checked at the end of the statement.
  const query = sql<{ i: number; session: Record<string, unknown>; message: Record<string, unknown> | null }>`
    WITH input AS MATERIALIZED (
      SELECT x.*, gen_random_uuid() AS sid, coalesce(x.contact_id, gen_random_uuid()) AS cid
      FROM jsonb_to_recordset(${JSON.stringify(input, wellFormed)}::jsonb) AS x(
        i integer, live_chat_id uuid, channel text, operator_id text, contact_id uuid, name text, phones text[], emails text[],
        account text, add_to text, peer text, has_message boolean, text text, template jsonb, lease_ms integer, at timestamptz)
    ),
    session AS (
      INSERT INTO sessions (id, live_chat_id, channel, contact_id, account, peer, operator_id, status)
      SELECT x.sid, x.live_chat_id, x.channel, x.cid, x.account, x.peer, x.operator_id, 'open'
      FROM input AS x
      WHERE EXISTS (SELECT 1 FROM live_chat_operators AS o WHERE o.live_chat_id = x.live_chat_id AND o.operator_id = x.operator_id)
        AND (x.contact_id IS NULL OR EXISTS (SELECT 1 FROM contacts AS c WHERE c.id = x.contact_id))
      ORDER BY x.live_chat_id, x.account
      ON CONFLICT DO NOTHING
      RETURNING *
    ),
    written AS (
      SELECT x.*, s.id AS session_id FROM session AS s JOIN input AS x ON x.sid = s.id
    ),
    new_contact AS (
      INSERT INTO contacts (id, name, phones, emails, created_at, updated_at)
      SELECT w.cid, w.name, w.phones, w.emails, now(), now() FROM written AS w WHERE w.contact_id IS NULL
      RETURNING id
    ),
    extended_contact AS (
      UPDATE contacts AS c
      SET phones = CASE WHEN w.add_to = 'phones' THEN array_append(c.phones, w.account) ELSE c.phones END,
          emails = CASE WHEN w.add_to = 'emails' THEN array_append(c.emails, w.account) ELSE c.emails END,
          updated_at = w.at
      FROM written AS w
      WHERE c.id = w.contact_id
        AND ((w.add_to = 'phones' AND NOT w.account = ANY(c.phones)) OR (w.add_to = 'emails' AND NOT w.account = ANY(c.emails)))
      RETURNING c.id
    ),
    message AS (
      INSERT INTO messages (session_id, live_chat_id, direction, text, template, status, next_attempt_at, created_at, updated_at, locked_until, attempts)
      SELECT w.session_id, w.live_chat_id, 'outbound', w.text, w.template, 'queued', w.at, w.at, w.at,
             -- A claim as claimDueMessages makes it: the lease in whole milliseconds, one attempt counted.
             date_trunc('milliseconds', now() + w.lease_ms * interval '1 millisecond'), CASE WHEN w.lease_ms IS NULL THEN 0 ELSE 1 END
      FROM written AS w WHERE w.has_message
      ORDER BY w.i
      RETURNING *
    )
    SELECT x.i, to_jsonb(s.*) AS session, to_jsonb(m.*) AS message
    FROM session AS s
    JOIN input AS x ON x.sid = s.id
    LEFT JOIN message AS m ON m.session_id = s.id
  `.compile(db);
  const rows = await run(query);
  return new Map(rows.map((row) => [row.i, { session: reviveSession(row.session), message: row.message ? reviveMessage(row.message) : null }]));
}

/**
 * A lone UTF-16 surrogate cannot travel in JSON to Postgres (jsonb refuses it). As a text
 * parameter it would have been stored as U+FFFD, so that is what it becomes here too.
 */
function wellFormed(_key: string, value: unknown): unknown {
  return typeof value === 'string' ? value.replace(LONE_SURROGATES, '\uFFFD') : value;
}
const LONE_SURROGATES = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const date = (value: unknown) => new Date(value as string);
const maybeDate = (value: unknown) => (value === null || value === undefined ? null : date(value));

function reviveSession(json: Record<string, unknown>): SessionRow {
  return { ...(json as unknown as SessionRow), created_at: date(json.created_at), updated_at: date(json.updated_at), closed_at: maybeDate(json.closed_at) };
}

function reviveMessage(json: Record<string, unknown>): MessageRow {
  return {
    ...(json as unknown as MessageRow),
    created_at: date(json.created_at),
    updated_at: date(json.updated_at),
    next_attempt_at: maybeDate(json.next_attempt_at),
    locked_until: maybeDate(json.locked_until),
  };
}
