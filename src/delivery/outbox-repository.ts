import { type Kysely, type Transaction, sql } from 'kysely';
import type { Database } from '../db/types.js';
import { messageEvents } from '../events/snapshots.js';
import type { QueuedMessage } from '../sessions/outbound-queue.js';
import type { ChannelType } from '../domain/channel.js';
import type { MessageError, MessageTemplate } from '../domain/message.js';
import { claimPacedMessages } from './paced-claim.js';
import { PACING_HORIZON_MS, TELEGRAM_CHAT_INTERVAL_MS } from './pacing.js';
import { releaseExpiredLeases } from './pacing-repository.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A queued message this process holds under a lease, with what delivery needs of its session. */
export interface ClaimedMessage {
  id: string;
  sessionId: string;
  liveChatId: string;
  /** The session's channel, which picks the channel client. */
  channel: ChannelType;
  /** The session's account (E.164, `@username` or an address) and the provider's identity of the person. */
  account: string;
  peer: string;
  seq: number;
  text: string | null;
  template: MessageTemplate | null;
  /** An email's subject. */
  subject: string | null;
  /** Attempts so far, this one included. */
  attempts: number;
  /** The lease; also the claim's identity: outcomes are only written while it still matches. */
  lockedUntil: Date;
  /** The send slot its live chat's rate gave it, when it was claimed with one; else the dispatcher reserves one. */
  sendAt?: Date | undefined;
}

/** A message queued already claimed (see OutboxQueue), as a dispatcher delivers it. */
export function claimOfQueued(message: QueuedMessage & { lockedUntil: Date }): ClaimedMessage {
  const { id, sessionId, liveChatId, channel, account, peer, seq, text, template, subject, attempts, lockedUntil } = message;
  return { id, sessionId, liveChatId, channel, account, peer, seq, text, template, subject, attempts, lockedUntil };
}

/** The claim an outcome is written under. */
export type Claim = Pick<ClaimedMessage, 'id' | 'lockedUntil'>;

/**
 * Claims up to `limit` due messages for `leaseMs`, each with the send slot its live chat's
 * rate gives it (see claimPacedMessages). With `expiredLeases` (the default) it first makes
 * messages whose lease ran out claimable again (see releaseExpiredLeases).
 */
export async function claimDueMessages(db: Db, options: { limit: number; leaseMs: number; expiredLeases?: boolean }): Promise<ClaimedMessage[]> {
  if (options.expiredLeases ?? true) await releaseExpiredLeases(db);
  const claim = await claimPacedMessages(db, { limit: options.limit, leaseMs: options.leaseMs, horizonMs: PACING_HORIZON_MS, chatIntervalMs: TELEGRAM_CHAT_INTERVAL_MS });
  return claim.messages;
}

function claimed(db: Db, claim: Claim) {
  return db
    .updateTable('messages')
    .where('id', '=', claim.id)
    .where('status', '=', sql.lit('queued'))
    .where('locked_until', '=', claim.lockedUntil);
}

/**
 * Records that the provider accepted the message. Returns false, changing nothing, when the
 * claim is no longer ours (the lease ran out and another process took the message).
 */
export async function recordSent(db: Db, claim: Claim, result: { providerMessageId: string; providerRecipient: string | null }): Promise<boolean> {
  return (await recordSentBatch(db, [{ claim, ...result }])).has(claim.id);
}

/**
 * recordSent for many messages in one statement (one commit instead of one per message).
 * Returns the ids whose claim still held; the others were not written.
 */
export async function recordSentBatch(
  db: Db,
  entries: { claim: Claim; providerMessageId: string; providerRecipient: string | null }[],
): Promise<Set<string>> {
  if (entries.length === 0) return new Set();
  const result = await sql<{ id: string }>`
    WITH sent AS (
      UPDATE messages AS m
      SET status = 'sent', provider_message_id = v.provider_message_id, provider_recipient = v.provider_recipient,
          error = NULL, locked_until = NULL, next_attempt_at = NULL, updated_at = now()
      FROM unnest(
        ${entries.map((e) => e.claim.id)}::uuid[],
        ${entries.map((e) => e.claim.lockedUntil.toISOString())}::timestamptz[],
        ${entries.map((e) => e.providerMessageId)}::text[],
        ${entries.map((e) => e.providerRecipient)}::text[]
      ) AS v(id, locked_until, provider_message_id, provider_recipient)
      WHERE m.id = v.id AND m.status = 'queued' AND m.locked_until = v.locked_until
      RETURNING m.*
    ),
    event AS (${messageEvents('message.sent', 'sent')})
    SELECT id FROM sent
  `.execute(db);
  return new Set(result.rows.map((r) => r.id));
}

/** Puts the message back in the queue, due in `delayMs`, keeping the last error visible. Same guard as recordSent. */
export async function scheduleRetry(db: Db, claim: Claim, retry: { delayMs: number; error: MessageError }): Promise<boolean> {
  const updated = await claimed(db, claim)
    .set({
      next_attempt_at: sql<Date>`now() + ${Math.max(0, Math.round(retry.delayMs))}::integer * interval '1 millisecond'`,
      locked_until: null,
      error: JSON.stringify(retry.error),
      updated_at: sql<Date>`now()`,
    })
    .executeTakeFirst();
  return updated.numUpdatedRows > 0n;
}

/** Marks the message failed for good, with the error the API shows. Same guard as recordSent. */
export async function recordFailure(db: Db, claim: Claim, error: MessageError): Promise<boolean> {
  const result = await sql<{ id: string }>`
    WITH failed AS (
      UPDATE messages SET status = 'failed', error = ${JSON.stringify(error)}::jsonb, locked_until = NULL, next_attempt_at = NULL, updated_at = now()
      WHERE id = ${claim.id} AND status = 'queued' AND locked_until = ${claim.lockedUntil}
      RETURNING *
    ),
    event AS (${messageEvents('message.failed', 'failed')})
    SELECT id FROM failed
  `.execute(db);
  return result.rows.length > 0;
}

/**
 * Gives claims back untried: clears the lease so any replica takes them at once and uncounts
 * the attempt. Claims that are no longer ours are left alone. Returns how many were released.
 */
export async function releaseClaims(db: Db, claims: readonly Claim[]): Promise<number> {
  if (claims.length === 0) return 0;
  const updated = await db
    .updateTable('messages')
    .set({ locked_until: null, attempts: sql<number>`greatest(attempts - 1, 0)`, updated_at: sql<Date>`now()` })
    .where('status', '=', sql.lit('queued'))
    .where((eb) => eb.or(claims.map((c) => eb.and([eb('id', '=', c.id), eb('locked_until', '=', c.lockedUntil)]))))
    .executeTakeFirst();
  return Number(updated.numUpdatedRows);
}

/**
 * Whether a claimed message may still go: `lost` when the claim no longer holds (someone
 * failed or took it meanwhile), `opted_out` when its person opted out of the live chat since.
 */
export async function claimStanding(db: Db, claim: Claim): Promise<'held' | 'lost' | 'opted_out'> {
  const result = await sql<{ opted_out: boolean }>`
    SELECT EXISTS (SELECT 1 FROM opt_outs AS o WHERE o.live_chat_id = m.live_chat_id AND o.account IN (s.account, s.peer)) AS opted_out
    FROM messages AS m JOIN sessions AS s ON s.id = m.session_id
    WHERE m.id = ${claim.id} AND m.status = 'queued' AND m.locked_until = ${claim.lockedUntil}
  `.execute(db);
  const row = result.rows[0];
  return !row ? 'lost' : row.opted_out ? 'opted_out' : 'held';
}

/** releaseClaims for the dispatcher: a failure is logged, not thrown (the leases run out instead). */
export async function giveBackClaims(db: Db, claims: readonly Claim[], log: { error(obj: object, msg: string): void }): Promise<void> {
  if (claims.length === 0) return;
  await releaseClaims(db, claims).catch((error: unknown) => log.error({ err: error }, 'could not release claims'));
}
