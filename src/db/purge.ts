import { type Kysely, type RawBuilder, type Transaction, sql } from 'kysely';
import type { Database } from './types.js';

const PURGE_CHUNK = 5_000;

/**
 * Deletes a table's rows matching `where` a few thousand at a time, so that a large purge
 * never holds many row locks or writes a burst of WAL in one transaction. Returns how many.
 */
export async function deleteInChunks(db: Kysely<Database> | Transaction<Database>, table: keyof Database, where: RawBuilder<unknown>): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await sql`
      DELETE FROM ${sql.table(table)}
      WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${sql.table(table)} WHERE ${where} LIMIT ${PURGE_CHUNK}::integer))
    `.execute(db);
    const deleted = Number(result.numAffectedRows ?? 0n);
    total += deleted;
    if (deleted < PURGE_CHUNK) return total;
  }
}
