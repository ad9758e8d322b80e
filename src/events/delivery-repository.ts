import { type Kysely, type Transaction, sql } from 'kysely';
import { type Keyset, type KeysetRow, afterKeyset, createdAtMicros } from '../db/keyset.js';
import type { Database } from '../db/types.js';
import type { EventDeliveryStatus } from '../domain/event.js';

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Turns new events into deliveries for every active subscription whose types and live chats
 * they match, up to `batch` events per subscription, in one statement. Each subscription reads
 * the log after its own position, with the same rule as GET /events (only transactions older
 * than every running one), so none is skipped; events of transactions that had committed when
 * the subscription started are not its own. Running it in several replicas at once is safe:
 * each takes the subscriptions no other is fanning out or claiming from (SKIP LOCKED), a
 * delivery exists once per event and subscription, and a position only moves forwards.
 */
export async function fanOutEvents(db: Db, options: { batch: number }): Promise<{ queued: number; more: boolean }> {
  const result = await sql<{ queued: number; fullest: number | null }>`
    WITH horizon AS MATERIALIZED (SELECT event_log_horizon() AS xid),
    sub AS MATERIALIZED (
      SELECT s.id, s.types, s.live_chat_ids, s.since_snapshot, s.after_xid, s.after_position
      FROM event_subscriptions AS s
      WHERE s.status = 'active'
      ORDER BY s.id
      FOR NO KEY UPDATE SKIP LOCKED
    ),
    scanned AS MATERIALIZED (
      SELECT s.id AS subscription_id, s.types, s.live_chat_ids, s.since_snapshot, e.live_chat_id, e.id AS event_id, e.type, e.xid, e.position
      FROM sub AS s
      CROSS JOIN LATERAL (
        SELECT e.live_chat_id, e.id, e.type, e.xid, e.position
        FROM events AS e
        WHERE (e.xid, e.position) > (s.after_xid, s.after_position)
          AND e.xid < (SELECT xid FROM horizon)
        ORDER BY e.xid, e.position
        LIMIT ${options.batch}::integer
      ) AS e
    ),
    queued AS (
      INSERT INTO event_deliveries (live_chat_id, event_id, subscription_id)
      SELECT live_chat_id, event_id, subscription_id FROM scanned
      WHERE (types IS NULL OR type = ANY(types))
        AND (live_chat_ids IS NULL OR live_chat_id = ANY(live_chat_ids))
        AND NOT pg_visible_in_snapshot(xid, since_snapshot)
      ORDER BY xid, position
      ON CONFLICT DO NOTHING
      RETURNING 1
    ),
    reached AS (
      SELECT DISTINCT ON (subscription_id) subscription_id, xid, position
      FROM scanned ORDER BY subscription_id, xid DESC, position DESC
    ),
    moved AS (
      UPDATE event_subscriptions AS s SET after_xid = r.xid, after_position = r.position
      FROM reached AS r
      WHERE s.id = r.subscription_id AND (s.after_xid, s.after_position) < (r.xid, r.position)
      RETURNING s.id
    )
    SELECT (SELECT count(*) FROM queued)::integer AS queued,
           (SELECT max(n) FROM (SELECT count(*) AS n FROM scanned GROUP BY subscription_id) AS per)::integer AS fullest
  `.execute(db);
  const row = result.rows[0];
  return { queued: row?.queued ?? 0, more: (row?.fullest ?? 0) >= options.batch };
}

/**
 * Queues every kept event since `since` that matches the subscription for delivery again, as
 * new deliveries or by resetting the ones it had. Returns how many.
 */
export async function replayEvents(db: Db, subscriptionId: string, since: Date): Promise<number> {
  const result = await sql<{ queued: number }>`
    WITH queued AS (
      INSERT INTO event_deliveries AS d (live_chat_id, event_id, subscription_id)
      SELECT e.live_chat_id, e.id, s.id
      FROM event_subscriptions AS s JOIN events AS e ON e.occurred_at >= ${since}
      WHERE s.id = ${subscriptionId}
        AND (s.types IS NULL OR e.type = ANY(s.types))
        AND (s.live_chat_ids IS NULL OR e.live_chat_id = ANY(s.live_chat_ids))
      ORDER BY e.xid, e.position
      ON CONFLICT (live_chat_id, event_id, subscription_id) DO UPDATE
      SET status = 'pending', attempts = 0, next_attempt_at = now(), locked_until = NULL,
          last_status_code = NULL, last_error = NULL, delivered_at = NULL, updated_at = now()
      RETURNING 1
    )
    SELECT count(*)::integer AS queued FROM queued
  `.execute(db);
  return result.rows[0]?.queued ?? 0;
}

export interface DeliveryListRow extends KeysetRow {
  event_id: string;
  type: string;
  status: EventDeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: Date | null;
  delivered_at: Date | null;
}

/** A subscription's deliveries, newest first; `limit + 1` rows so the caller can tell whether another page exists. */
export function listDeliveries(
  db: Db,
  subscriptionId: string,
  query: { status?: EventDeliveryStatus | undefined; limit: number; after?: Keyset | undefined },
): Promise<DeliveryListRow[]> {
  let q = db
    .selectFrom('event_deliveries')
    .select(['id', 'event_id', 'status', 'attempts', 'last_status_code', 'last_error', 'next_attempt_at', 'delivered_at', createdAtMicros])
    .select(sql<string>`(SELECT e.type FROM events AS e WHERE e.live_chat_id = event_deliveries.live_chat_id AND e.id = event_deliveries.event_id)`.as('type'))
    .where('subscription_id', '=', subscriptionId);
  if (query.status) q = q.where('status', '=', query.status);
  if (query.after) q = q.where(afterKeyset(query.after));
  return q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(query.limit + 1)
    .execute();
}

/**
 * For metrics: deliveries waiting, and the age of the oldest event an active subscription has
 * not had yet — pending for it, or not yet turned into a delivery.
 */
export async function eventDeliveryStats(db: Db): Promise<{ pending: number; oldestUndeliveredAgeSeconds: number }> {
  const result = await sql<{ pending: number; oldest_age: number | null }>`
    SELECT
      (SELECT count(*) FROM event_deliveries WHERE status = 'pending')::integer AS pending,
      extract(epoch FROM now() - least(
        (SELECT min(e.occurred_at)
         FROM event_deliveries AS d
         JOIN event_subscriptions AS s ON s.id = d.subscription_id AND s.status = 'active'
         JOIN events AS e ON e.live_chat_id = d.live_chat_id AND e.id = d.event_id
         WHERE d.status = 'pending'),
        (SELECT min(next.occurred_at)
         FROM event_subscriptions AS s
         CROSS JOIN LATERAL (
           SELECT e.occurred_at FROM events AS e
           WHERE (e.xid, e.position) > (s.after_xid, s.after_position)
           ORDER BY e.xid, e.position LIMIT 1
         ) AS next
         WHERE s.status = 'active')
      ))::float8 AS oldest_age
  `.execute(db);
  const row = result.rows[0];
  return { pending: row?.pending ?? 0, oldestUndeliveredAgeSeconds: Math.max(0, row?.oldest_age ?? 0) };
}
