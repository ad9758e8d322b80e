import { type Kysely, type Transaction, sql } from 'kysely';
import { type Keyset, type KeysetRow, afterKeyset, createdAtMicros } from '../db/keyset.js';
import type { Database, OptOutRow } from '../db/types.js';
import type { OptOutSource } from '../domain/consent.js';
import { messageEvents } from '../events/snapshots.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Whether an opt-out of the live chat is recorded under any of these accounts. */
export async function isOptedOut(db: Db, liveChatId: string, accounts: readonly string[]): Promise<boolean> {
  if (accounts.length === 0) return false;
  const row = await db.selectFrom('opt_outs').select('account').where('live_chat_id', '=', liveChatId).where('account', 'in', accounts).executeTakeFirst();
  return row !== undefined;
}

export function findOptOut(db: Db, liveChatId: string, account: string): Promise<OptOutRow | undefined> {
  return db.selectFrom('opt_outs').selectAll().where('live_chat_id', '=', liveChatId).where('account', '=', account).executeTakeFirst();
}

/**
 * Records an opt-out; one already recorded keeps its time and takes the new source and reason.
 * Returns true when the person was not opted out before.
 */
export async function upsertOptOut(db: Db, o: { liveChatId: string; account: string; source: OptOutSource; reason: string | null }): Promise<boolean> {
  const result = await sql<{ created: boolean }>`
    INSERT INTO opt_outs AS o (live_chat_id, account, source, reason)
    VALUES (${o.liveChatId}, ${o.account}, ${o.source}, ${o.reason})
    ON CONFLICT (live_chat_id, account) DO UPDATE SET source = excluded.source, reason = coalesce(excluded.reason, o.reason)
    RETURNING (xmax = 0) AS created
  `.execute(db);
  return result.rows[0]?.created === true;
}

/** Removes an opt-out (only one of these sources, when given); true when there was one. */
export async function deleteOptOut(db: Db, liveChatId: string, account: string, sources?: readonly OptOutSource[]): Promise<boolean> {
  let q = db.deleteFrom('opt_outs').where('live_chat_id', '=', liveChatId).where('account', '=', account);
  if (sources) q = q.where('source', 'in', sources);
  const deleted = await q.executeTakeFirst();
  return deleted.numDeletedRows > 0n;
}

/** Newest first; `limit + 1` rows so the caller can tell whether another page follows. */
export function listOptOuts(db: Db, liveChatId: string, query: { account?: string | undefined; limit: number; after?: Keyset | undefined }): Promise<(OptOutRow & KeysetRow)[]> {
  let q = db.selectFrom('opt_outs').selectAll().select(createdAtMicros).where('live_chat_id', '=', liveChatId);
  if (query.account !== undefined) q = q.where('account', '=', query.account);
  if (query.after) q = q.where(afterKeyset(query.after));
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit + 1).execute();
}

const OPTED_OUT_ERROR = JSON.stringify({ code: 'contact_opted_out', message: 'The person opted out of this live chat before the message was sent.' });

/**
 * Fails the queued outbound messages on the person's open session (by its account or peer)
 * instead of sending them. Messages a dispatcher holds right now are left to it, and any
 * others (a closed session's) to the claim: both check the opt-out again before sending.
 */
export async function failQueuedMessagesTo(db: Db, liveChatId: string, account: string): Promise<number> {
  const result = await sql<{ n: number }>`
    WITH failed AS (
    UPDATE messages AS m
    SET status = 'failed', error = ${OPTED_OUT_ERROR}::jsonb, next_attempt_at = NULL, updated_at = now()
    FROM sessions AS s
    WHERE s.live_chat_id = ${liveChatId} AND s.status = 'open' AND (s.account = ${account} OR s.peer = ${account})
      AND m.session_id = s.id AND m.direction = 'outbound' AND m.status = 'queued'
      AND (m.locked_until IS NULL OR m.locked_until <= now())
    RETURNING m.*
    ),
    event AS (${messageEvents('message.failed', 'failed')})
    SELECT count(*)::integer AS n FROM failed
  `.execute(db);
  return result.rows[0]?.n ?? 0;
}
