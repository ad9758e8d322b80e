import { type Kysely, type Transaction, sql } from 'kysely';
import { type Keyset, type KeysetRow, afterKeyset, createdAtMicros } from '../db/keyset.js';
import type { Database } from '../db/types.js';
import type { SubscriptionStatus } from '../domain/event.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A subscription as stored, without its place in the log (only the webhook worker reads that). */
export interface SubscriptionRow {
  id: string;
  url: string;
  types: string[] | null;
  live_chat_ids: string[] | null;
  description: string | null;
  status: SubscriptionStatus;
  secrets: string;
  previous_secret_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = ['id', 'url', 'types', 'live_chat_ids', 'description', 'status', 'secrets', 'previous_secret_expires_at', 'created_at', 'updated_at'] as const;

export interface SubscriptionValues {
  url: string;
  types: string[] | null;
  liveChatIds: string[] | null;
  description: string | null;
  sealedSecrets: string;
}

/** Inserts an active subscription; it starts reading the log where it is now (see the migration). */
export function insertSubscription(db: Db, values: SubscriptionValues): Promise<SubscriptionRow> {
  return db
    .insertInto('event_subscriptions')
    .values({ url: values.url, types: values.types, live_chat_ids: values.liveChatIds, description: values.description, secrets: values.sealedSecrets })
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

export function findSubscription(db: Db, id: string): Promise<SubscriptionRow | undefined> {
  return db.selectFrom('event_subscriptions').select(COLUMNS).where('id', '=', id).executeTakeFirst();
}

/** Locks the row for the rest of the transaction (a PATCH reads, merges, writes). */
export function findSubscriptionForUpdate(db: Transaction<Database>, id: string): Promise<SubscriptionRow | undefined> {
  return db.selectFrom('event_subscriptions').select(COLUMNS).where('id', '=', id).forNoKeyUpdate().executeTakeFirst();
}

/** Newest first; `limit + 1` rows so the caller can tell whether another page exists. */
export function listSubscriptions(db: Db, query: { limit: number; after?: Keyset | undefined }): Promise<(SubscriptionRow & KeysetRow)[]> {
  let q = db.selectFrom('event_subscriptions').select([...COLUMNS, createdAtMicros]);
  if (query.after) q = q.where(afterKeyset(query.after));
  return q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(query.limit + 1)
    .execute();
}

export interface SubscriptionChange {
  url: string;
  types: string[] | null;
  liveChatIds: string[] | null;
  description: string | null;
  status: SubscriptionStatus;
  sealedSecrets: string;
  previousSecretExpiresAt: Date | null;
  /**
   * Start reading the log from now on, as a new subscription does: set when a paused
   * subscription resumes (what happened meanwhile comes through replay).
   */
  restart: boolean;
}

export function updateSubscription(db: Db, id: string, change: SubscriptionChange): Promise<SubscriptionRow> {
  return db
    .updateTable('event_subscriptions')
    .set({
      url: change.url,
      types: change.types,
      live_chat_ids: change.liveChatIds,
      description: change.description,
      status: change.status,
      secrets: change.sealedSecrets,
      previous_secret_expires_at: change.previousSecretExpiresAt,
      updated_at: sql<Date>`now()`,
      ...(change.restart
        ? {
            after_xid: sql<string>`pg_snapshot_xmin(pg_current_snapshot())`,
            after_position: 0,
            since_snapshot: sql<string>`pg_current_snapshot()`,
          }
        : {}),
    })
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

/** Deletes the subscription and its deliveries; false when there was none. */
export async function deleteSubscription(db: Db, id: string): Promise<boolean> {
  const result = await db.deleteFrom('event_subscriptions').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
