import { type Kysely, sql } from 'kysely';
import { type QueryRunner, runWith } from '../db/prepared.js';
import type { Database } from '../db/types.js';
import type { ChannelType } from '../domain/channel.js';
import type { MessageTemplate } from '../domain/message.js';
import type { ClaimedMessage } from './outbox-repository.js';
import { expiredLeaseRelease, rateOf, reservation, reservationRow } from './pacing-repository.js';
import { messageEvents } from '../events/snapshots.js';

/** What a claim saw of a live chat with messages waiting in the outbox. */
export interface ChatPacingReport {
  liveChatId: string;
  /** Its next free send slot after the claim. */
  nextSlotAt: Date;
  ratePerSecond: number;
  /** Due messages were left in the outbox for want of slots (or of room in this claim), or wait for a live chat left for later. */
  backlog: boolean;
}

export interface PacedClaim {
  messages: ClaimedMessage[];
  chats: ChatPacingReport[];
}

export interface PacedClaimOptions {
  limit: number;
  leaseMs: number;
  /** How far ahead send slots are reserved: a live chat whose slots reach past half of it is left for later. */
  horizonMs: number;
  /** Telegram: the least time between two messages to one chat. */
  chatIntervalMs: number;
  /** Also make messages whose lease ran out claimable again (by the next claim; see releaseExpiredLeases). */
  expiredLeases?: boolean | undefined;
}

const OPTED_OUT_ERROR = JSON.stringify({ code: 'contact_opted_out', message: 'The person opted out of this live chat before the message was sent.' });

/**
 * Claims up to `limit` due messages, each with the send slot it goes out at, in one statement.
 *
 * Each live chat with ready messages is looked at on its own (a skip scan over the ready
 * index), so that one with a long backlog over its rate costs the claim one probe, and no
 * other live chat waits behind it. A live chat whose reserved slots reach past half the
 * horizon is left for later; from the others, only as many messages are taken as their free
 * slots before now + horizon allow, reserved in the live chat's shared pacing row in this same
 * statement — so every replica together stays within the rate. A message is not due while an
 * earlier message of its session is still queued (a session's messages go one at a time, in
 * order), nor, on Telegram, within `chatIntervalMs` of the session's last sent message.
 * Messages to a person who opted out are failed here with `contact_opted_out` instead. With
 * `expiredLeases`, messages whose lease ran out are released for the next claim.
 * The text does not depend on the options: `run` may prepare it once.
 */
export async function claimPacedMessages(db: Kysely<Database>, options: PacedClaimOptions, run: QueryRunner = runWith(db)): Promise<PacedClaim> {
  const horizon = sql`(${options.horizonMs}::integer * interval '1 millisecond')`;
  const query = sql<ClaimRow>`
    WITH RECURSIVE released AS (${expiredLeaseRelease(options.expiredLeases ?? false)}),
    chats AS (
      (SELECT m.live_chat_id FROM messages AS m WHERE m.status = 'queued' AND m.locked_until IS NULL ORDER BY m.live_chat_id LIMIT 1)
      UNION ALL
      SELECT (
        SELECT m.live_chat_id FROM messages AS m
        WHERE m.status = 'queued' AND m.locked_until IS NULL AND m.live_chat_id > c.live_chat_id
        ORDER BY m.live_chat_id LIMIT 1)
      FROM chats AS c WHERE c.live_chat_id IS NOT NULL
    ),
    budget AS (
      SELECT l.id AS live_chat_id, l.channel_type, ${rateOf('l')} AS rate, greatest(coalesce(p.next_slot_at, now()), now()) AS start
      FROM chats AS c
      JOIN live_chats AS l ON l.id = c.live_chat_id
      LEFT JOIN live_chat_pacing AS p ON p.live_chat_id = c.live_chat_id
    ),
    open_chats AS (
      SELECT b.*, least(${options.limit}::integer, ceil(extract(epoch FROM now() + ${horizon} - b.start) * b.rate))::integer AS slots
      FROM budget AS b
      WHERE b.start < now() + ${horizon} / 2
    ),
    picked AS (
      SELECT x.*, o.rate, o.slots
      FROM open_chats AS o
      CROSS JOIN LATERAL (
        SELECT m.id, m.live_chat_id, m.session_id, m.next_attempt_at, m.seq,
               EXISTS (SELECT 1 FROM opt_outs AS oo WHERE oo.live_chat_id = m.live_chat_id AND oo.account IN (s.account, s.peer)) AS opted_out
        FROM messages AS m
        JOIN sessions AS s ON s.id = m.session_id
        WHERE m.live_chat_id = o.live_chat_id
          AND m.status = 'queued' AND m.locked_until IS NULL AND m.next_attempt_at <= now() AND m.direction = 'outbound'
          AND NOT EXISTS (SELECT 1 FROM messages AS e WHERE e.session_id = m.session_id AND e.status = 'queued' AND e.seq < m.seq)
          AND NOT (o.channel_type = 'telegram' AND EXISTS (
            SELECT 1 FROM messages AS e
            WHERE e.session_id = m.session_id AND e.direction = 'outbound' AND e.status = 'sent'
              AND e.updated_at > now() - ${options.chatIntervalMs}::integer * interval '1 millisecond'))
        ORDER BY m.next_attempt_at, m.seq
        LIMIT o.slots + 1
        FOR UPDATE OF m SKIP LOCKED
      ) AS x
    ),
    ranked AS (
      SELECT p.*, row_number() OVER (PARTITION BY p.live_chat_id ORDER BY p.next_attempt_at, p.seq)::integer AS k
      FROM picked AS p WHERE NOT p.opted_out
    ),
    capped AS (
      SELECT r.* FROM ranked AS r WHERE r.k <= r.slots ORDER BY r.next_attempt_at, r.seq LIMIT ${options.limit}::integer
    ),
    wanted AS (
      SELECT c.live_chat_id, max(c.rate) AS rate, count(*)::integer AS n FROM capped AS c GROUP BY c.live_chat_id
    ),
    reserved AS (
      INSERT INTO live_chat_pacing AS p (live_chat_id, rate_per_second, next_slot_at, last_taken)
      ${reservationRow(sql`w.live_chat_id`, sql`w.rate`, sql`w.n`)} FROM wanted AS w
      ${reservation(options.horizonMs)}
    ),
    claimed AS (
      UPDATE messages AS m
      SET locked_until = date_trunc('milliseconds', now() + ${options.leaseMs}::integer * interval '1 millisecond'),
          attempts = m.attempts + 1,
          updated_at = now()
      FROM capped AS c
      JOIN reserved AS v ON v.live_chat_id = c.live_chat_id
      JOIN sessions AS s ON s.id = c.session_id
      WHERE m.id = c.id AND c.k <= v.last_taken
      RETURNING m.id, m.session_id, m.live_chat_id, s.channel, s.account, s.peer, m.seq, m.text, m.subject, m.template, m.attempts, m.locked_until,
        v.next_slot_at - (v.last_taken - c.k + 1) * (interval '1 second' / v.rate_per_second) AS send_at
    ),
    opted_out AS (
      UPDATE messages AS m
      SET status = 'failed', error = ${OPTED_OUT_ERROR}::jsonb, locked_until = NULL, next_attempt_at = NULL, updated_at = now()
      FROM picked AS p
      WHERE m.id = p.id AND p.opted_out
      RETURNING m.*
    ),
    opted_out_event AS (${messageEvents('message.failed', 'opted_out')})
    SELECT 'message' AS kind, c.id, c.session_id, c.live_chat_id, c.channel, c.account, c.peer, c.seq, c.text, c.subject, c.template,
           c.attempts, c.locked_until, c.send_at, NULL::timestamptz AS next_slot_at, NULL::integer AS rate, NULL::boolean AS backlog
    FROM claimed AS c
    UNION ALL
    SELECT 'chat', NULL, NULL, b.live_chat_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           coalesce(v.next_slot_at, b.start), b.rate,
           CASE WHEN o.live_chat_id IS NOT NULL
             THEN (SELECT count(*) FROM ranked AS r WHERE r.live_chat_id = b.live_chat_id) > coalesce(v.last_taken, 0)
             -- Left for later: does a due message wait for its slots?
             ELSE EXISTS (SELECT 1 FROM messages AS m WHERE m.live_chat_id = b.live_chat_id AND m.status = 'queued' AND m.locked_until IS NULL AND m.next_attempt_at <= now())
           END
    FROM budget AS b
    LEFT JOIN open_chats AS o ON o.live_chat_id = b.live_chat_id
    LEFT JOIN reserved AS v ON v.live_chat_id = b.live_chat_id
  `.compile(db);
  const result = await run(query);
  const messages: ClaimedMessage[] = [];
  const chats: ChatPacingReport[] = [];
  for (const row of result) {
    if (row.kind === 'chat') {
      chats.push({ liveChatId: row.live_chat_id, nextSlotAt: row.next_slot_at!, ratePerSecond: row.rate!, backlog: row.backlog! });
      continue;
    }
    messages.push({
      id: row.id!,
      sessionId: row.session_id!,
      liveChatId: row.live_chat_id,
      channel: row.channel!,
      account: row.account!,
      peer: row.peer!,
      seq: Number(row.seq),
      text: row.text,
      subject: row.subject,
      template: row.template,
      attempts: row.attempts!,
      lockedUntil: row.locked_until!,
      sendAt: row.send_at!,
    });
  }
  messages.sort((a, b) => a.seq - b.seq);
  return { messages, chats };
}

interface ClaimRow {
  kind: 'message' | 'chat';
  id: string | null;
  session_id: string | null;
  live_chat_id: string;
  channel: ChannelType | null;
  account: string | null;
  peer: string | null;
  seq: number | string | null;
  text: string | null;
  subject: string | null;
  template: MessageTemplate | null;
  attempts: number | null;
  locked_until: Date | null;
  send_at: Date | null;
  next_slot_at: Date | null;
  rate: number | null;
  backlog: boolean | null;
}
