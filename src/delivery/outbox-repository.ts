import { type Kysely, type Transaction, sql } from 'kysely';
import type { Database } from '../db/types.js';
import { messageEvents } from '../events/snapshots.js';
import type { QueuedMessage } from '../sessions/outbound-queue.js';
import type { ChannelType } from '../domain/channel.js';
import type { MessageError, MessageTemplate } from '../domain/message.js';

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
}

/** A message queued already claimed (see OutboxQueue), as a dispatcher delivers it. */
export function claimOfQueued(message: QueuedMessage & { lockedUntil: Date }): ClaimedMessage {
  const { id, sessionId, liveChatId, channel, account, peer, seq, text, template, subject, attempts, lockedUntil } = message;
  return { id, sessionId, liveChatId, channel, account, peer, seq, text, template, subject, attempts, lockedUntil };
}

/** The claim an outcome is written under. */
export type Claim = Pick<ClaimedMessage, 'id' | 'lockedUntil'>;

/**
 * Claims up to `limit` due queued messages for `leaseMs` and counts the attempt, in one
 * statement. `FOR UPDATE SKIP LOCKED` lets every replica claim at once without waiting on
 * or taking each other's rows. A message is not due while an earlier message of its session
 * is still queued, in flight or waiting for a retry: a session's messages go out one at a
 * time, in order.
 *
 * With `expiredLeases` it also takes messages whose lease ran out (their holder died
 * mid-attempt). Those are rare and need not be taken at once, so a dispatcher looks for them
 * only now and then; each part reads only its own index (see migration 0005).
 */
export async function claimDueMessages(db: Db, options: { limit: number; leaseMs: number; expiredLeases?: boolean }): Promise<ClaimedMessage[]> {
  // The lease is cut to milliseconds so that it survives the round trip through a JS Date
  // exactly and can guard the outcome (see recordSent).
  const result = await sql<{
    id: string;
    session_id: string;
    live_chat_id: string;
    channel: ChannelType;
    account: string;
    peer: string;
    seq: number | string;
    text: string | null;
    template: MessageTemplate | null;
    subject: string | null;
    attempts: number;
    locked_until: Date;
  }>`
    WITH ready AS (
      SELECT c.id
      FROM messages AS c
      WHERE c.status = 'queued'
        AND c.locked_until IS NULL
        AND c.next_attempt_at <= now()
        AND c.direction = 'outbound'
        AND NOT EXISTS (
          SELECT 1 FROM messages AS earlier
          WHERE earlier.session_id = c.session_id AND earlier.status = 'queued' AND earlier.seq < c.seq
        )
      ORDER BY c.next_attempt_at, c.seq
      LIMIT ${options.limit}::integer
      FOR UPDATE OF c SKIP LOCKED
    ),
    expired AS (
      SELECT c.id
      FROM messages AS c
      WHERE ${options.expiredLeases ?? true}::boolean
        AND c.status = 'queued'
        AND c.locked_until IS NOT NULL
        AND c.locked_until <= now()
        AND c.direction = 'outbound'
        AND NOT EXISTS (
          SELECT 1 FROM messages AS earlier
          WHERE earlier.session_id = c.session_id AND earlier.status = 'queued' AND earlier.seq < c.seq
        )
      ORDER BY c.locked_until
      LIMIT ${options.limit}::integer
      FOR UPDATE OF c SKIP LOCKED
    )
    UPDATE messages AS m
    SET locked_until = date_trunc('milliseconds', now() + ${options.leaseMs}::integer * interval '1 millisecond'),
        attempts = m.attempts + 1,
        updated_at = now()
    FROM (SELECT id FROM ready UNION ALL SELECT id FROM expired LIMIT ${options.limit}::integer) AS due, sessions AS s
    WHERE m.id = due.id AND s.id = m.session_id
    RETURNING m.id, m.session_id, m.live_chat_id, s.channel, s.account, s.peer, m.seq, m.text, m.template, m.subject, m.attempts, m.locked_until
  `.execute(db);
  return result.rows
    .map((row) => ({
      id: row.id,
      sessionId: row.session_id,
      liveChatId: row.live_chat_id,
      channel: row.channel,
      account: row.account,
      peer: row.peer,
      seq: Number(row.seq),
      text: row.text,
      template: row.template,
      subject: row.subject,
      attempts: row.attempts,
      lockedUntil: row.locked_until,
    }))
    .sort((a, b) => a.seq - b.seq);
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
