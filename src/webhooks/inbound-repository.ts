import { type Kysely, type Transaction, sql } from 'kysely';
import { deleteInChunks } from '../db/purge.js';
import type { Database } from '../db/types.js';

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Marks a provider event as processed. Returns false when it already was (a replay): the
 * caller then skips its effects. Inside a transaction, a concurrent delivery of the same event
 * waits on the primary key until the first commits, then sees the row.
 */
export async function recordProcessedEvent(db: Db, liveChatId: string, eventId: string, at: Date): Promise<boolean> {
  const inserted = await db
    .insertInto('processed_events')
    .values({ live_chat_id: liveChatId, event_id: eventId, processed_at: at })
    .onConflict((oc) => oc.columns(['live_chat_id', 'event_id']).doNothing())
    .returning('event_id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Forgets events processed before `before`: providers no longer deliver them again. Returns how many. */
export function purgeProcessedEvents(db: Db, before: Date): Promise<number> {
  return deleteInChunks(db, 'processed_events', sql`processed_at < ${before}`);
}
