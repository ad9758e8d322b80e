import { type Kysely, type Transaction, sql } from 'kysely';
import type { Database } from '../db/types.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface StoredResponse {
  statusCode: number;
  headers: Record<string, string>;
  payload: string;
}

export interface IdempotencyRecord {
  fingerprint: string;
  status: 'running' | 'done';
  lockedUntil: Date;
  expiresAt: Date;
  response: StoredResponse | null;
}

/** Claims a key for a new request; false when the key is already there (running or done). */
export async function claimIdempotencyKey(
  db: Db,
  v: { apiKeyId: string; key: string; fingerprint: string; lockedUntil: Date; expiresAt: Date },
): Promise<boolean> {
  const row = await db
    .insertInto('idempotency_keys')
    .values({ api_key_id: v.apiKeyId, key: v.key, fingerprint: v.fingerprint, status: 'running', locked_until: v.lockedUntil, expires_at: v.expiresAt })
    .onConflict((oc) => oc.columns(['api_key_id', 'key']).doNothing())
    .returning('key')
    .executeTakeFirst();
  return row !== undefined;
}

export async function findIdempotencyKey(db: Db, apiKeyId: string, key: string): Promise<IdempotencyRecord | undefined> {
  const row = await db.selectFrom('idempotency_keys').selectAll().where('api_key_id', '=', apiKeyId).where('key', '=', key).executeTakeFirst();
  if (!row) return undefined;
  return {
    fingerprint: row.fingerprint,
    status: row.status,
    lockedUntil: row.locked_until,
    expiresAt: row.expires_at,
    response: row.response_code === null ? null : (row.response_body as StoredResponse),
  };
}

/**
 * Takes over a key whose holder is gone: an expired record, or a running one whose lock ran
 * out (its process died). Returns false when someone else took it first.
 */
export async function takeOverIdempotencyKey(
  db: Db,
  v: { apiKeyId: string; key: string; fingerprint: string; lockedUntil: Date; expiresAt: Date; now: Date },
): Promise<boolean> {
  const result = await db
    .updateTable('idempotency_keys')
    .set({ fingerprint: v.fingerprint, status: 'running', locked_until: v.lockedUntil, expires_at: v.expiresAt, response_code: null, response_body: null })
    .where('api_key_id', '=', v.apiKeyId)
    .where('key', '=', v.key)
    .where((eb) => eb.or([eb('expires_at', '<=', v.now), eb.and([eb('status', '=', sql.lit('running')), eb('locked_until', '<=', v.now)])]))
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Extends a running request's lock (its holder is alive); a finished key is left as it is. */
export async function renewIdempotencyLock(db: Db, apiKeyId: string, key: string, lockedUntil: Date): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({ locked_until: lockedUntil })
    .where('api_key_id', '=', apiKeyId)
    .where('key', '=', key)
    .where('status', '=', sql.lit('running'))
    .execute();
}

export async function completeIdempotencyKey(db: Db, apiKeyId: string, key: string, response: StoredResponse): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({ status: 'done', response_code: response.statusCode, response_body: JSON.stringify(response) })
    .where('api_key_id', '=', apiKeyId)
    .where('key', '=', key)
    .execute();
}

/** Frees a key whose request failed with a 5xx, so that a retry runs again. */
export async function releaseIdempotencyKey(db: Db, apiKeyId: string, key: string): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('api_key_id', '=', apiKeyId).where('key', '=', key).where('status', '=', sql.lit('running')).execute();
}

/** Deletes expired keys; returns how many. */
export async function purgeExpiredIdempotencyKeys(db: Db, now: Date): Promise<number> {
  const result = await db.deleteFrom('idempotency_keys').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
