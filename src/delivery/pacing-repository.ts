import { type Kysely, type RawBuilder, type Transaction, sql } from 'kysely';
import { type QueryRunner, runWith } from '../db/prepared.js';
import type { Database } from '../db/types.js';
import { DEFAULT_SEND_RATE_PER_SECOND } from '../domain/channel.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A live chat's send rate as stored in its channel settings (or its channel's default), in SQL. */
export function rateOf(liveChat: string): RawBuilder<number> {
  return sql<number>`coalesce((${sql.ref(`${liveChat}.channel_settings`)}->>'sendRatePerSecond')::integer,
    (${JSON.stringify(DEFAULT_SEND_RATE_PER_SECOND)}::jsonb->>${sql.ref(`${liveChat}.channel_type`)})::integer)`;
}

/**
 * The slot reservation shared by every replica, as the tail of an `INSERT INTO
 * live_chat_pacing AS p (live_chat_id, rate_per_second, next_slot_at, last_taken)` whose rows
 * are reservationRow()s. An existing row gives slots from its next free one on (or from the
 * time of the reservation, if that passed), 1/rate apart, as many as wanted but none at or
 * beyond that time + horizon; `last_taken` says how many, so that the slots are
 * `next_slot_at - (last_taken - i) / rate` for i in 1..last_taken. Concurrent reservations
 * queue on the row and each sees the one before it.
 */
export function reservation(horizonMs: number): RawBuilder<unknown> {
  const spacing = sql`(interval '1 second' / excluded.rate_per_second)`;
  // The time of the reservation, as reservationRow wrote it into the row it tried to insert.
  const at = sql`(excluded.next_slot_at - excluded.last_taken * ${spacing})`;
  const start = sql`greatest(p.next_slot_at, ${at})`;
  const take = sql`least(excluded.last_taken, greatest(0, ceil(
      extract(epoch FROM ${at} + ${horizonMs}::integer * interval '1 millisecond' - ${start}) * excluded.rate_per_second)))::integer`;
  return sql`
    ON CONFLICT (live_chat_id) DO UPDATE
    SET last_taken = ${take},
        next_slot_at = ${start} + ${take} * ${spacing},
        rate_per_second = excluded.rate_per_second
    RETURNING p.live_chat_id, p.next_slot_at, p.last_taken, p.rate_per_second`;
}

/**
 * The row a reservation inserts for `wanted` slots (at most a horizon's worth) at `rate`: as
 * if the live chat had none yet, from the time of the reservation on. clock_timestamp(), not
 * now(): a claim reserves after it has found its messages, and its slots start then.
 */
export function reservationRow(liveChatId: RawBuilder<string>, rate: RawBuilder<number>, wanted: RawBuilder<number>): RawBuilder<unknown> {
  return sql`SELECT ${liveChatId}, ${rate}, clock_timestamp() + ${wanted} * (interval '1 second' / ${rate}), ${wanted}`;
}

/** Slots reserved for a live chat: `taken` of them, 1000/ratePerSecond ms apart, the last one before `nextSlotAt`. */
export interface ReservedSlots {
  nextSlotAt: Date;
  taken: number;
  ratePerSecond: number;
}

/** The times of reserved slots, oldest first (epoch ms). */
export function slotTimes(slots: ReservedSlots): number[] {
  const spacingMs = 1000 / slots.ratePerSecond;
  const end = slots.nextSlotAt.getTime();
  return Array.from({ length: slots.taken }, (_, i) => end - (slots.taken - i) * spacingMs);
}

/**
 * Reserves up to `wanted` send slots of the live chat, none beyond now + horizon, for messages
 * this replica sends without claiming them (handed over when they were queued). Returns what
 * it got: possibly none, when the horizon is full. Undefined when there is no such live chat.
 */
export async function reserveSlots(
  db: Kysely<Database>,
  request: { liveChatId: string; wanted: number; horizonMs: number },
  run: QueryRunner = runWith(db),
): Promise<ReservedSlots | undefined> {
  const { liveChatId, wanted, horizonMs } = request;
  const query = sql<{ next_slot_at: Date; last_taken: number; rate_per_second: number }>`
    WITH chat AS (
      SELECT l.id, ${rateOf('l')} AS rate FROM live_chats AS l WHERE l.id = ${liveChatId}
    ),
    wanted AS (
      SELECT c.id, c.rate, least(${wanted}::integer, ceil(${horizonMs}::integer / 1000.0 * c.rate))::integer AS n FROM chat AS c
    )
    INSERT INTO live_chat_pacing AS p (live_chat_id, rate_per_second, next_slot_at, last_taken)
    ${reservationRow(sql`w.id`, sql`w.rate`, sql`w.n`)} FROM wanted AS w
    ${reservation(horizonMs)}
  `.compile(db);
  const [row] = await run(query);
  return row && { nextSlotAt: row.next_slot_at, taken: row.last_taken, ratePerSecond: row.rate_per_second };
}

/**
 * Makes messages whose lease ran out (their holder died mid-attempt) claimable again, keeping
 * the attempt they used. Rare; a dispatcher looks for them now and then. Returns how many.
 */
export async function releaseExpiredLeases(db: Db): Promise<number> {
  const result = await sql<{ id: string }>`${expiredLeaseRelease(true)}`.execute(db);
  return result.rows.length;
}

/** The UPDATE of releaseExpiredLeases, for a claim to run it first (only when `enabled`), at most `limit` at a time. */
export function expiredLeaseRelease(enabled: boolean, limit = 500): RawBuilder<{ id: string }> {
  return sql<{ id: string }>`
    UPDATE messages AS m
    SET locked_until = NULL, updated_at = now()
    FROM (
      SELECT c.id FROM messages AS c
      WHERE ${enabled}::boolean AND c.status = 'queued' AND c.locked_until IS NOT NULL AND c.locked_until <= now()
      ORDER BY c.locked_until
      LIMIT ${limit}::integer
      FOR UPDATE OF c SKIP LOCKED
    ) AS expired
    WHERE m.id = expired.id
    RETURNING m.id`;
}

/** Whether a claim could find anything: a due ready message, or (with `expiredLeases`) a lease that ran out. */
export async function outboxHasWork(db: Db, expiredLeases: boolean): Promise<boolean> {
  const result = await sql<{ work: boolean }>`
    SELECT EXISTS (SELECT 1 FROM messages WHERE status = 'queued' AND locked_until IS NULL AND next_attempt_at <= now())
        OR (${expiredLeases}::boolean AND EXISTS (SELECT 1 FROM messages WHERE status = 'queued' AND locked_until IS NOT NULL AND locked_until <= now())) AS work
  `.execute(db);
  return result.rows[0]?.work === true;
}
