import { type Kysely, type Transaction, sql } from 'kysely';
import { type GroupCommitter, claimGuardedCommitter } from '../db/group-commit.js';
import type { Database } from '../db/types.js';
import type { Event } from '../domain/event.js';
import { toEvent } from './log-repository.js';

type Db = Kysely<Database> | Transaction<Database>;

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
 * Claims up to `limit` due deliveries for `leaseMs` and counts the attempt, in one round trip,
 * never more than `perSubscription` in flight for one subscription (counted across replicas:
 * each subscription's row is locked while it is claimed from, and one another replica is
 * claiming from is skipped), so a slow receiver holds only its own slots. Deliveries whose
 * event is gone (a purge racing a replay) are never claimed.
 */
export async function claimDeliveries(db: Db, options: { limit: number; perSubscription: number; leaseMs: number }): Promise<ClaimedDelivery[]> {
  // One round trip: the function (migration 0017) locks the subscriptions in one statement and
  // claims in the next, so its count of leases in flight sees every claim committed before.
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
    SELECT * FROM claim_event_deliveries(${options.limit}::integer, ${options.perSubscription}::integer, ${options.leaseMs}::integer)
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

/**
 * Writes attempts' outcomes in one statement (one commit instead of one per webhook), each
 * only while its claim still holds. Returns the ids whose claim held; the others were not written.
 */
export async function recordAttempts(db: Db, attempts: readonly { claim: Claim; result: AttemptResult }[]): Promise<Set<string>> {
  if (attempts.length === 0) return new Set();
  const { rows } = await sql<{ id: string }>`
    UPDATE event_deliveries AS d
    SET status = v.status,
        locked_until = NULL,
        next_attempt_at = CASE WHEN v.status = 'pending' THEN now() + v.delay_ms * interval '1 millisecond' END,
        last_status_code = v.status_code,
        last_error = CASE WHEN v.status = 'delivered' THEN NULL ELSE v.error END,
        delivered_at = CASE WHEN v.status = 'delivered' THEN now() END,
        updated_at = now()
    FROM unnest(
      ${attempts.map((a) => a.claim.id)}::uuid[],
      ${attempts.map((a) => a.claim.liveChatId)}::uuid[],
      ${attempts.map((a) => a.claim.lockedUntil.toISOString())}::timestamptz[],
      ${attempts.map((a) => a.result.status)}::text[],
      ${attempts.map((a) => (a.result.status === 'pending' ? Math.max(0, Math.round(a.result.delayMs)) : 0))}::integer[],
      ${attempts.map((a) => a.result.statusCode)}::integer[],
      ${attempts.map((a) => (a.result.status === 'delivered' ? null : a.result.error))}::text[]
    ) AS v(id, live_chat_id, locked_until, status, delay_ms, status_code, error)
    WHERE d.live_chat_id = v.live_chat_id AND d.id = v.id AND d.status = 'pending' AND d.locked_until = v.locked_until
    RETURNING d.id
  `.execute(db);
  return new Set(rows.map((r) => r.id));
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

/** Writes attempts' outcomes in groups: under load many webhooks share one statement and commit. */
export function attemptRecorder(db: Db): GroupCommitter<{ claim: Claim; result: AttemptResult }, boolean> {
  return claimGuardedCommitter((attempts) => recordAttempts(db, attempts));
}
