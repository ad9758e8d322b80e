import type { Kysely, Transaction } from 'kysely';
import type { ApiKeyRow, Database } from '../db/types.js';

type Db = Kysely<Database> | Transaction<Database>;

export function insertApiKey(db: Db, values: { name: string; scopes: string[]; liveChatIds: string[] | null; keyHash: string }): Promise<ApiKeyRow> {
  return db
    .insertInto('api_keys')
    .values({ name: values.name, scopes: values.scopes, live_chat_ids: values.liveChatIds, key_hash: values.keyHash })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findActiveApiKeyByHash(db: Db, keyHash: string): Promise<ApiKeyRow | undefined> {
  return db.selectFrom('api_keys').selectAll().where('key_hash', '=', keyHash).where('revoked_at', 'is', null).executeTakeFirst();
}

export function listApiKeys(db: Db): Promise<ApiKeyRow[]> {
  return db.selectFrom('api_keys').selectAll().where('revoked_at', 'is', null).orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
}

/** Marks a key revoked; returns false when there was no active key with that id. */
export async function revokeApiKey(db: Db, id: string): Promise<boolean> {
  const result = await db
    .updateTable('api_keys')
    .set({ revoked_at: new Date() })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Which of these live chat ids exist. */
export async function existingLiveChatIds(db: Db, ids: readonly string[]): Promise<string[]> {
  const rows = await db.selectFrom('live_chats').select('id').where('id', 'in', ids).execute();
  return rows.map((r) => r.id);
}
