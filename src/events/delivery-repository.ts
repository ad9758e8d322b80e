import { type Kysely, type Transaction, sql } from 'kysely';
import { type Keyset, type KeysetRow, afterKeyset, createdAtMicros } from '../db/keyset.js';
import type { Database } from '../db/types.js';
import type { Event, EventDeliveryStatus } from '../domain/event.js';
import { toEvent } from './log-repository.js';

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Turns new events into deliveries for every active subscription whose types and live chats
 * they match, up to `batch` events per subscription, in one statement. Each subscription reads
 * the log after its own position, with the same rule as GET /events (only transactions older
 * than every running one), so none is skipped; events of transactions that had committed when
 * the subscription started are not its own. Running it in several replicas at once is safe:
 * a delivery exists once per event and subscription, and a position only moves forwards.
 */
export async function fanOutEvents(db: Db, options: { batch: number }): Promise<{ queued: number; more: boolean }> {
  const result = await sql<{ queued: number; fullest: number | null }>`
    WITH horizon AS MATERIALIZED (SELECT event_log_horizon() AS xid),
    scanned AS MATERIALIZED (
      SELECT s.id AS subscription_id, s.types, s.live_chat_ids, s.since_snapshot, e.live_chat_id, e.id AS event_id, e.type, e.xid, e.position
      FROM event_subscriptions AS s
      CROSS JOIN LATERAL (
        SELECT e.live_chat_id, e.id, e.type, e.xid, e.position
        FROM events AS e
        WHERE (e.xid, e.position) > (s.after_xid, s.after_position)
          AND e.xid < (SELECT xid FROM horizon)
        ORDER BY e.xid, e.position
        LIMIT ${options.batch}::integer
      ) AS e
      WHERE s.status = 'active'
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

/** A delivery this process holds under a lease, with its event and where and how to send it. */
export interface ClaimedDelivery {
  id: string;
  liveChatId: string;
  subscriptionId: string;
  /** Attempts so far, this one included. */
  attempts: number;
  /** The lease; also the claim's identity: outcomes are only written while it still matches. */
  lockedUntil: Date;
  event: Event;
  url: string;
  sealedSecrets: string;
  previousSecretExpiresAt: Date | null;
}

/**
 * Claims up to `limit` due deliveries for `leaseMs` and counts the attempt, in one statement,
 * never more than `perSubscription` in flight for one subscription (counted across replicas:
 * each subscription's row is locked while it is claimed from, and one another replica is
 * claiming from is skipped), so a slow receiver holds only its own slots.
 */
export async function claimDeliveries(db: Db, options: { limit: number; perSubscription: number; leaseMs: number }): Promise<ClaimedDelivery[]> {
  const result = await sql<{
    id: string;
    live_chat_id: string;
    subscription_id: string;
    attempts: number;
    locked_until: Date;
    event_id: string;
    type: string;
    occurred_at: Date;
    data: Record<string, unknown>;
    url: string;
    secrets: string;
    previous_secret_expires_at: Date | null;
  }>`
    WITH sub AS (
      SELECT s.id FROM event_subscriptions AS s WHERE s.status = 'active'
      FOR NO KEY UPDATE SKIP LOCKED
    ),
    room AS (
      SELECT sub.id, ${options.perSubscription}::integer - (
        SELECT count(*) FROM event_deliveries AS d
        WHERE d.subscription_id = sub.id AND d.status = 'pending' AND d.locked_until IS NOT NULL AND d.locked_until > now()
      )::integer AS free
      FROM sub
    ),
    picked AS (
      SELECT due.live_chat_id, due.id
      FROM room CROSS JOIN LATERAL (
        SELECT d.live_chat_id, d.id
        FROM event_deliveries AS d
        WHERE d.subscription_id = room.id AND d.status = 'pending' AND d.locked_until IS NULL AND d.next_attempt_at <= now()
        ORDER BY d.next_attempt_at
        LIMIT greatest(room.free, 0)
        FOR UPDATE OF d SKIP LOCKED
      ) AS due
      LIMIT ${options.limit}::integer
    )
    UPDATE event_deliveries AS d
    SET locked_until = date_trunc('milliseconds', now() + ${options.leaseMs}::integer * interval '1 millisecond'),
        attempts = d.attempts + 1,
        updated_at = now()
    FROM picked AS p, events AS e, event_subscriptions AS s
    WHERE d.live_chat_id = p.live_chat_id AND d.id = p.id
      AND e.live_chat_id = d.live_chat_id AND e.id = d.event_id AND s.id = d.subscription_id
    RETURNING d.id, d.live_chat_id, d.subscription_id, d.attempts, d.locked_until,
              e.id AS event_id, e.type, e.occurred_at, e.data, s.url, s.secrets, s.previous_secret_expires_at
  `.execute(db);
  return result.rows.map((row) => ({
    id: row.id,
    liveChatId: row.live_chat_id,
    subscriptionId: row.subscription_id,
    attempts: row.attempts,
    lockedUntil: new Date(row.locked_until),
    event: toEvent({ id: row.event_id, type: row.type, live_chat_id: row.live_chat_id, occurred_at: row.occurred_at, data: row.data }),
    url: row.url,
    sealedSecrets: row.secrets,
    previousSecretExpiresAt: row.previous_secret_expires_at ? new Date(row.previous_secret_expires_at) : null,
  }));
}

/** Deliveries whose holder died mid-attempt become due again; returns how many. */
export async function releaseExpiredLeases(db: Db): Promise<number> {
  const result = await sql`
    UPDATE event_deliveries SET locked_until = NULL, updated_at = now()
    WHERE status = 'pending' AND locked_until IS NOT NULL AND locked_until <= now()
  `.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

export type Claim = Pick<ClaimedDelivery, 'id' | 'liveChatId' | 'lockedUntil'>;

/** What an attempt came to: delivered, due again after `delayMs`, or failed for good. */
export type AttemptResult =
  | { status: 'delivered'; statusCode: number }
  | { status: 'pending'; delayMs: number; statusCode: number | null; error: string }
  | { status: 'failed'; statusCode: number | null; error: string };

/** Writes an attempt's outcome while the claim still holds; false (nothing written) once it does not. */
export async function recordAttempt(db: Db, claim: Claim, result: AttemptResult): Promise<boolean> {
  const updated = await db
    .updateTable('event_deliveries')
    .set({
      status: result.status,
      locked_until: null,
      next_attempt_at: result.status === 'pending' ? sql<Date>`now() + ${Math.max(0, Math.round(result.delayMs))}::integer * interval '1 millisecond'` : null,
      last_status_code: result.statusCode,
      last_error: result.status === 'delivered' ? null : result.error,
      delivered_at: result.status === 'delivered' ? sql<Date>`now()` : null,
      updated_at: sql<Date>`now()`,
    })
    .where('live_chat_id', '=', claim.liveChatId)
    .where('id', '=', claim.id)
    .where('status', '=', sql.lit('pending'))
    .where('locked_until', '=', claim.lockedUntil)
    .executeTakeFirst();
  return updated.numUpdatedRows > 0n;
}

/** Gives claims back untried (shutdown): due at once, the attempt uncounted. */
export async function releaseClaims(db: Db, claims: readonly Claim[]): Promise<void> {
  if (claims.length === 0) return;
  await db
    .updateTable('event_deliveries')
    .set({ locked_until: null, attempts: sql<number>`greatest(attempts - 1, 0)`, updated_at: sql<Date>`now()` })
    .where('status', '=', sql.lit('pending'))
    .where((eb) => eb.or(claims.map((c) => eb.and([eb('live_chat_id', '=', c.liveChatId), eb('id', '=', c.id), eb('locked_until', '=', c.lockedUntil)]))))
    .execute();
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
