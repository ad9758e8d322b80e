import { type Kysely, type Transaction, sql } from 'kysely';
import type { Database, SessionRow } from '../db/types.js';
import type { ChannelType } from '../domain/channel.js';
import { type Keyset, type KeysetRow, afterKeyset, createdAtMicros } from '../db/keyset.js';
import { violatedUniqueConstraint } from '../db/errors.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface NewSession {
  liveChatId: string;
  channel: ChannelType;
  contactId: string;
  account: string;
  peer: string;
  operatorId: string;
}

/** The open-session indexes; a violation of any of them is the one-open-session rule. */
const OPEN_SESSION_INDEXES = new Set(['sessions_open_account_key', 'sessions_open_contact_key', 'sessions_open_peer_key']);

/**
 * Inserts an open session unless one is already open for the same account, contact or person
 * on the live chat. Returns undefined when the rule refused it (also after losing a race: the
 * insert waits for the concurrent transaction and then skips).
 */
export function insertOpenSession(db: Db, s: NewSession): Promise<SessionRow | undefined> {
  return db
    .insertInto('sessions')
    .values({
      live_chat_id: s.liveChatId,
      channel: s.channel,
      contact_id: s.contactId,
      account: s.account,
      peer: s.peer,
      operator_id: s.operatorId,
      status: 'open',
    })
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

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

export function findSessionForUpdate(db: Transaction<Database>, id: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export interface SessionQuery {
  liveChatId?: string | undefined;
  status?: 'open' | 'closed' | undefined;
  operatorId?: string | undefined;
  contactId?: string | undefined;
  account?: string | undefined;
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
  if (query.within) q = query.within.length > 0 ? q.where('live_chat_id', 'in', query.within) : q.where(sql.lit(false));
  if (query.after) q = q.where(afterKeyset(query.after));
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit + 1).execute();
}

export function closeSession(db: Db, id: string, at: Date): Promise<SessionRow | undefined> {
  return db
    .updateTable('sessions')
    .set({ status: 'closed', closed_at: at, updated_at: at })
    .where('id', '=', id)
    .where('status', '=', sql.lit('open'))
    .returningAll()
    .executeTakeFirst();
}

/** True when an error is the one-open-session rule refusing a write (a lost race). */
export function isOpenSessionConflict(error: unknown): boolean {
  const constraint = violatedUniqueConstraint(error);
  return constraint !== null && OPEN_SESSION_INDEXES.has(constraint);
}

/**
 * Reopens a session for an operator. The open-session indexes may refuse it with a unique
 * violation (see isOpenSessionConflict), which aborts the transaction.
 */
export function reopenSession(db: Db, id: string, operatorId: string, at: Date): Promise<SessionRow> {
  return db
    .updateTable('sessions')
    .set({ status: 'open', operator_id: operatorId, closed_at: null, updated_at: at })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}
