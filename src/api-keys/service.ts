import type { Kysely } from 'kysely';
import type { ApiKeyRow, Database } from '../db/types.js';
import { type FieldError, validationFailed } from '../domain/refusal.js';
import { hashApiKey, newApiKeySecret } from './hash.js';
import * as repo from './repository.js';

export interface NewApiKey {
  name: string;
  scopes: ('sessions' | 'admin')[];
  liveChatIds?: string[] | null | undefined;
}

/**
 * Creates a key and returns it with its secret, which is stored only as a hash. A key
 * restricted to live chats has the `sessions` scope only (an admin key reaches everything) and
 * names live chats that exist; else 400 validation_failed on `/liveChatIds`.
 */
export async function createApiKey(db: Kysely<Database>, input: NewApiKey): Promise<{ row: ApiKeyRow; key: string }> {
  const liveChatIds = input.liveChatIds ?? null;
  if (liveChatIds && input.scopes.includes('admin')) {
    throw validationFailed([
      { field: '/liveChatIds', code: 'restricted_admin_key', message: 'A key restricted to live chats has the sessions scope only; an admin key reaches every live chat.' },
    ]);
  }
  if (liveChatIds) {
    const known = new Set(await repo.existingLiveChatIds(db, liveChatIds));
    const errors: FieldError[] = liveChatIds.flatMap((id, i) =>
      known.has(id) ? [] : [{ field: `/liveChatIds/${i}`, code: 'unknown_live_chat', message: `Live chat ${id} does not exist.` }],
    );
    if (errors.length > 0) throw validationFailed(errors);
  }
  const key = newApiKeySecret();
  const row = await repo.insertApiKey(db, { name: input.name, scopes: input.scopes, liveChatIds, keyHash: hashApiKey(key) });
  return { row, key };
}
