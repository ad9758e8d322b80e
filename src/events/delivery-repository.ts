import { type Kysely, type Transaction, sql } from 'kysely';
import { type Keyset, type KeysetRow, createdAtMicrosText } from '../db/keyset.js';
import type { Database } from '../db/types.js';
import type { EventDeliveryStatus } from '../domain/event.js';

type Db = Kysely<Database> | Transaction<Database>;

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

/**
 * A subscription's deliveries, newest first; `limit + 1` rows so the caller can tell whether
 * another page exists. The events its windows delivered at the first attempt are listed from
 * the window's row (migration 0020), each as a delivery of its own keyed by the event's id;
 * those whose event is gone past retention are not.
 */
export async function listDeliveries(
  db: Db,
  subscriptionId: string,
  query: { status?: EventDeliveryStatus | undefined; limit: number; after?: Keyset | undefined },
): Promise<DeliveryListRow[]> {
  const after = query.after ? sql`(${query.after.createdAt}::timestamptz, ${query.after.id}::uuid)` : null;
  const windows =
    query.status === undefined || query.status === 'delivered'
      ? sql`
        UNION ALL
        (SELECT v.event_id AS id, v.event_id, e.type, 'delivered' AS status, 1 AS attempts, v.status_code AS last_status_code,
           NULL::text AS last_error, NULL::timestamptz AS next_attempt_at, w.created_at AS delivered_at, w.created_at
         FROM event_window_deliveries AS w
         CROSS JOIN LATERAL unnest(w.event_ids, w.live_chat_ids, w.status_codes) AS v(event_id, live_chat_id, status_code)
         JOIN events AS e ON e.live_chat_id = v.live_chat_id AND e.id = v.event_id
         WHERE w.subscription_id = ${subscriptionId}
           ${after ? sql`AND w.created_at <= ${query.after!.createdAt}::timestamptz AND (w.created_at, v.event_id) < ${after}` : sql``}
         ORDER BY w.created_at DESC, v.event_id DESC
         LIMIT ${query.limit + 1})`
      : sql``;
  const { rows } = await sql<DeliveryListRow>`
    SELECT listed.id, listed.event_id, listed.type, listed.status, listed.attempts, listed.last_status_code, listed.last_error,
      listed.next_attempt_at, listed.delivered_at,
      ${createdAtMicrosText} AS created_at_us
    FROM (
      (SELECT d.id, d.event_id, (SELECT e.type FROM events AS e WHERE e.live_chat_id = d.live_chat_id AND e.id = d.event_id) AS type,
         d.status, d.attempts, d.last_status_code, d.last_error, d.next_attempt_at, d.delivered_at, d.created_at
       FROM event_deliveries AS d
       WHERE d.subscription_id = ${subscriptionId}
         ${query.status ? sql`AND d.status = ${query.status}` : sql``}
         ${after ? sql`AND (d.created_at, d.id) < ${after}` : sql``}
       ORDER BY d.created_at DESC, d.id DESC
       LIMIT ${query.limit + 1})
      ${windows}
    ) AS listed
    ORDER BY listed.created_at DESC, listed.id DESC
    LIMIT ${query.limit + 1}
  `.execute(db);
  return rows;
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
