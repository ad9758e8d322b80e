import { type Kysely, type Transaction, sql } from 'kysely';
import type { QueryRunner } from '../db/prepared.js';
import type { ChannelType, Database, MessageRow, MessageTemplate, SessionRow } from '../db/types.js';

type Db = Kysely<Database> | Transaction<Database>;

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
  at: Date;
}

/**
 * The whole initiation as one statement, so it costs one round trip and is atomic by itself:
 * the contact (created or, if the account is new to it, extended), the open session and its
 * queued message. It writes only while the operator is assigned to the live chat and the given
 * contact exists; otherwise it returns undefined and writes nothing. Another open session with
 * the person makes the whole statement fail with a unique violation on an open-session index
 * (see isOpenSessionConflict), which undoes the contact as well.
 */
export async function writeInitiation(
  db: Db,
  w: InitiationWrite,
  run: QueryRunner = async (query) => (await db.executeQuery(query)).rows,
): Promise<{ session: SessionRow; message: MessageRow | null } | undefined> {
  const column = w.addAccountTo ? sql.ref(w.addAccountTo) : null;
  const contactStep =
    'id' in w.contact
      ? column
        ? sql`UPDATE contacts
              SET ${column} = CASE WHEN ${w.account}::text = ANY(${column}) THEN ${column} ELSE array_append(${column}, ${w.account}::text) END,
                  updated_at = CASE WHEN ${w.account}::text = ANY(${column}) THEN updated_at ELSE ${w.at} END
              WHERE id = ${w.contact.id} AND EXISTS (SELECT 1 FROM assigned) RETURNING id`
        : sql`SELECT id FROM contacts WHERE id = ${w.contact.id} AND EXISTS (SELECT 1 FROM assigned)`
      : sql`INSERT INTO contacts (name, phones, emails, created_at, updated_at)
            SELECT ${w.contact.name}, ${w.contact.phones}::text[], ${w.contact.emails}::text[], now(), now() FROM assigned
            RETURNING id`;
  const message = w.message;
  const query = sql<Record<string, unknown>>`
    WITH assigned AS (
      SELECT 1 FROM live_chat_operators WHERE live_chat_id = ${w.liveChatId} AND operator_id = ${w.operatorId}
    ),
    contact AS (${contactStep}),
    session AS (
      INSERT INTO sessions (live_chat_id, channel, contact_id, account, peer, operator_id, status)
      SELECT ${w.liveChatId}, ${w.channel}, contact.id, ${w.account}, ${w.peer}, ${w.operatorId}, 'open' FROM contact
      RETURNING *
    ),
    message AS (
      INSERT INTO messages (session_id, live_chat_id, direction, text, template, status, next_attempt_at, created_at, updated_at)
      SELECT session.id, ${w.liveChatId}, 'outbound', ${message?.text ?? null}, ${message?.template ? JSON.stringify(message.template) : null}::jsonb,
             'queued', ${w.at}, ${w.at}, ${w.at}
      FROM session WHERE ${message !== null}
      RETURNING *
    )
    SELECT to_jsonb(session.*) AS session, (SELECT to_jsonb(message.*) FROM message) AS message FROM session
  `.compile(db);
  const [row] = await run(query);
  if (!row) return undefined;
  return { session: reviveSession(row.session as Record<string, unknown>), message: row.message ? reviveMessage(row.message as Record<string, unknown>) : null };
}

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
