import { type Kysely, type Transaction, sql } from 'kysely';
import type { Database, SessionRow } from '../db/types.js';
import { type Keyset, type KeysetRow, afterKeyset, createdAtMicros } from '../db/keyset.js';
import { violatedUniqueConstraint } from '../db/errors.js';
import type { SessionOrigin } from '../domain/session.js';
import { sessionEvents } from '../events/snapshots.js';

type Db = Kysely<Database> | Transaction<Database>;

/** The open-session indexes; a violation of any of them is the one-open-session rule. */
const OPEN_SESSION_INDEXES = new Set(['sessions_open_account_key', 'sessions_open_contact_key', 'sessions_open_peer_key']);

/** The open session on the live chat with this account, contact or person, if any. */
export function findOpenSession(db: Db, liveChatId: string, who: { account: string; contactId?: string | undefined; peer: string }): Promise<SessionRow | undefined> {
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('live_chat_id', '=', liveChatId)
    .where('status', '=', sql.lit('open'))
    .where((eb) =>
      eb.or([
        eb('account', '=', who.account),
        eb('peer', '=', who.peer),
        ...(who.contactId !== undefined ? [eb('contact_id', '=', who.contactId)] : []),
      ]),
    )
    .limit(1)
    .executeTakeFirst();
}

export function findSession(db: Db, id: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
}

export interface SessionQuery {
  liveChatId?: string | undefined;
  status?: 'open' | 'closed' | undefined;
  operatorId?: string | undefined;
  contactId?: string | undefined;
  account?: string | undefined;
  /** true: sessions nobody has taken (operatorId null); false: assigned ones. */
  unassigned?: boolean | undefined;
  origin?: SessionOrigin | undefined;
  /** Only sessions of these live chats (a restricted API key); null or undefined: all. */
  within?: readonly string[] | null | undefined;
  limit: number;
  after?: Keyset | undefined;
}

/** Newest first; `limit + 1` rows so the caller can tell whether another page exists. */
export function listSessions(db: Db, query: SessionQuery): Promise<(SessionRow & KeysetRow)[]> {
  let q = db.selectFrom('sessions').selectAll().select(createdAtMicros);
  if (query.liveChatId) q = q.where('live_chat_id', '=', query.liveChatId);
  if (query.status) q = q.where('status', '=', query.status);
  if (query.operatorId) q = q.where('operator_id', '=', query.operatorId);
  if (query.contactId) q = q.where('contact_id', '=', query.contactId);
  if (query.account) q = q.where('account', '=', query.account);
  if (query.unassigned !== undefined) q = q.where('operator_id', query.unassigned ? 'is' : 'is not', null);
  if (query.origin) q = q.where('origin', '=', query.origin);
  if (query.within) q = query.within.length > 0 ? q.where('live_chat_id', 'in', query.within) : q.where(sql.lit(false));
  if (query.after) q = q.where(afterKeyset(query.after));
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit + 1).execute();
}

/** Closes an open session, with its `session.closed` event; undefined when it was not open. */
export async function closeSession(db: Db, id: string, at: Date): Promise<SessionRow | undefined> {
  const result = await sql<SessionRow>`
    WITH closed AS (
      UPDATE sessions SET status = 'closed', closed_at = ${at}, updated_at = ${at}
      WHERE id = ${id} AND status = 'open'
      RETURNING *
    ),
    event AS (${sessionEvents('session.closed', 'closed')})
    SELECT * FROM closed
  `.execute(db);
  return result.rows[0];
}

/** True when an error is the one-open-session rule refusing a write (a lost race). */
export function isOpenSessionConflict(error: unknown): boolean {
  const constraint = violatedUniqueConstraint(error);
  return constraint !== null && OPEN_SESSION_INDEXES.has(constraint);
}

/**
 * Assigns an open session to an operator assigned to its live chat, with its
 * `session.assigned` event; undefined when a guard held it back.
 */
export async function assignSession(db: Db, id: string, operatorId: string, at: Date): Promise<SessionRow | undefined> {
  const result = await sql<SessionRow>`
    WITH assigned AS (
      UPDATE sessions AS s SET operator_id = ${operatorId}, updated_at = ${at}
      WHERE s.id = ${id} AND s.status = 'open'
        AND EXISTS (SELECT 1 FROM live_chat_operators AS o WHERE o.live_chat_id = s.live_chat_id AND o.operator_id = ${operatorId})
      RETURNING s.*
    ),
    event AS (${sessionEvents('session.assigned', 'assigned')})
    SELECT * FROM assigned
  `.execute(db);
  return result.rows[0];
}
