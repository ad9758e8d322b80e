import { type Kysely, type Transaction, sql } from 'kysely';
import type { Database } from '../db/types.js';
import type { BatchStatus, RecipientError, RecipientOutcome } from '../domain/batch.js';
import type { MessageInput } from '../sessions/formats.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface BatchRow {
  id: string;
  live_chat_id: string;
  operator_id: string;
  message: MessageInput;
  status: BatchStatus;
  total: number;
  created_at: Date;
  finished_at: Date | null;
}

export type BatchCounts = Record<RecipientOutcome, number>;

/** A recipient as given, its formats checked when the batch was accepted. */
export interface RecipientInput {
  contactId?: string | undefined;
  contact?: { name: string; phones?: string[] | undefined; emails?: string[] | undefined } | undefined;
  account?: string | undefined;
  parameters?: string[] | undefined;
  reference?: string | undefined;
}

/** The batch and every recipient in one statement: accepted whole, or not at all. */
export async function insertBatch(db: Db, batch: { liveChatId: string; operatorId: string; message: MessageInput; recipients: readonly RecipientInput[] }): Promise<BatchRow> {
  const recipients = JSON.stringify(batch.recipients.map((input, index) => ({ index, reference: input.reference ?? null, input })));
  const result = await sql<BatchRow>`
    WITH batch AS (
      INSERT INTO session_batches (live_chat_id, operator_id, message, total)
      VALUES (${batch.liveChatId}, ${batch.operatorId}, ${JSON.stringify(batch.message)}::jsonb, ${batch.recipients.length})
      RETURNING *
    ),
    recipients AS (
      INSERT INTO batch_recipients (live_chat_id, batch_id, index, reference, input)
      SELECT b.live_chat_id, b.id, x.index, x.reference, x.input
      FROM batch AS b, jsonb_to_recordset(${recipients}::jsonb) AS x(index integer, reference text, input jsonb)
    )
    SELECT * FROM batch
  `.execute(db);
  return result.rows[0]!;
}

export async function findBatch(db: Db, id: string): Promise<BatchRow | undefined> {
  const result = await sql<BatchRow>`SELECT * FROM session_batches WHERE id = ${id}`.execute(db);
  return result.rows[0];
}

/** How many of the batch's recipients have each outcome. */
export async function countRecipients(db: Db, batchId: string): Promise<BatchCounts> {
  const result = await sql<{ outcome: RecipientOutcome; n: number }>`
    SELECT outcome, count(*)::integer AS n FROM batch_recipients WHERE batch_id = ${batchId} GROUP BY outcome
  `.execute(db);
  const counts: BatchCounts = { pending: 0, created: 0, refused: 0, canceled: 0 };
  for (const row of result.rows) counts[row.outcome] = Number(row.n);
  return counts;
}

export interface RecipientRow {
  index: number;
  reference: string | null;
  input: RecipientInput;
  outcome: RecipientOutcome;
  session_id: string | null;
  session_account: string | null;
  error: RecipientError | null;
}

/** The batch's recipients in index order after `afterIndex`; `limit + 1` rows to tell whether more follow. */
export async function listRecipients(db: Db, batchId: string, query: { outcome?: RecipientOutcome | undefined; afterIndex?: number | undefined; limit: number }): Promise<RecipientRow[]> {
  const result = await sql<RecipientRow>`
    SELECT r.index, r.reference, r.input, r.outcome, r.session_id, s.account AS session_account, r.error
    FROM batch_recipients AS r LEFT JOIN sessions AS s ON s.id = r.session_id
    WHERE r.batch_id = ${batchId}
      ${query.outcome ? sql`AND r.outcome = ${query.outcome}` : sql``}
      ${query.afterIndex !== undefined ? sql`AND r.index > ${query.afterIndex}` : sql``}
    ORDER BY r.index
    LIMIT ${query.limit + 1}
  `.execute(db);
  return result.rows;
}

/** A recipient held by a claim: the batch's request and the recipient as given. */
export interface ClaimedRecipient {
  liveChatId: string;
  batchId: string;
  index: number;
  input: RecipientInput;
  attempts: number;
  /** The lease, and the claim's identity: outcomes are written only while it still matches. */
  lockedUntil: Date;
  operatorId: string;
  message: MessageInput;
}

/**
 * Claims up to `limit` pending recipients (free, or whose claim ran out) for `leaseMs`, the
 * oldest running batch first and each batch in index order, counting the attempt. SKIP LOCKED
 * lets every replica claim at once. Each batch's recipients are read in index order from the
 * pending index and the read stops at `limit`: a scan of every pending entry (a bitmap scan and
 * a sort, which the planner picks for a single ORDER BY over all batches) also visits the
 * entries of recipients already done until vacuum removes them, and it never marks them dead,
 * so each chunk of a 10,000-recipient batch took longer than the one before (about 280 ms a
 * claim on average, against about 5 ms now).
 */
export async function claimRecipients(db: Db, options: { limit: number; leaseMs: number }): Promise<ClaimedRecipient[]> {
  const result = await sql<{
    live_chat_id: string;
    batch_id: string;
    index: number;
    input: RecipientInput;
    attempts: number;
    locked_until: Date;
    operator_id: string;
    message: MessageInput;
  }>`
    WITH due AS (
      SELECT p.live_chat_id, p.batch_id, p.index
      FROM (SELECT b.live_chat_id, b.id FROM session_batches AS b WHERE b.status = 'running' ORDER BY b.created_at, b.id) AS b
      CROSS JOIN LATERAL (
        SELECT r.live_chat_id, r.batch_id, r.index
        FROM batch_recipients AS r
        WHERE r.batch_id = b.id AND r.live_chat_id = b.live_chat_id
          AND r.outcome = 'pending' AND (r.locked_until IS NULL OR r.locked_until <= now())
        ORDER BY r.index
        LIMIT ${options.limit}::integer
        FOR UPDATE OF r SKIP LOCKED
      ) AS p
      LIMIT ${options.limit}::integer
    )
    UPDATE batch_recipients AS r
    SET locked_until = date_trunc('milliseconds', now() + ${options.leaseMs}::integer * interval '1 millisecond'), attempts = r.attempts + 1, updated_at = now()
    FROM due, session_batches AS b
    WHERE r.live_chat_id = due.live_chat_id AND r.batch_id = due.batch_id AND r.index = due.index
      AND b.live_chat_id = r.live_chat_id AND b.id = r.batch_id
    RETURNING r.live_chat_id, r.batch_id, r.index, r.input, r.attempts, r.locked_until, b.operator_id, b.message
  `.execute(db);
  return result.rows
    .map((row) => ({
      liveChatId: row.live_chat_id,
      batchId: row.batch_id,
      index: row.index,
      input: row.input,
      attempts: row.attempts,
      lockedUntil: new Date(row.locked_until),
      operatorId: row.operator_id,
      message: row.message,
    }))
    .sort((a, b) => a.index - b.index);
}

/** Records refusals, each only while its claim still holds. */
export async function recordRefusals(db: Db, refusals: readonly { recipient: ClaimedRecipient; error: RecipientError }[]): Promise<void> {
  if (refusals.length === 0) return;
  const rows = JSON.stringify(
    refusals.map(({ recipient: r, error }) => ({ live_chat_id: r.liveChatId, batch_id: r.batchId, index: r.index, lease: r.lockedUntil.toISOString(), error })),
  );
  await sql`
    UPDATE batch_recipients AS r
    SET outcome = 'refused', error = x.error, locked_until = NULL, updated_at = now()
    FROM jsonb_to_recordset(${rows}::jsonb) AS x(live_chat_id uuid, batch_id uuid, index integer, lease timestamptz, error jsonb)
    WHERE r.live_chat_id = x.live_chat_id AND r.batch_id = x.batch_id AND r.index = x.index AND r.outcome = 'pending' AND r.locked_until = x.lease
  `.execute(db);
}

/** Locks the batch row for the rest of the transaction (finishing or canceling it). */
export async function lockBatch(trx: Transaction<Database>, id: string): Promise<BatchRow | undefined> {
  const result = await sql<BatchRow>`SELECT * FROM session_batches WHERE id = ${id} FOR UPDATE`.execute(trx);
  return result.rows[0];
}

export async function hasPending(trx: Transaction<Database>, batchId: string): Promise<boolean> {
  const result = await sql<{ id: number }>`SELECT 1 AS id FROM batch_recipients WHERE batch_id = ${batchId} AND outcome = 'pending' LIMIT 1`.execute(trx);
  return result.rows.length > 0;
}

/** Ends a running batch (done or canceled); a canceled one's pending recipients are canceled with it. */
export async function endBatch(trx: Transaction<Database>, id: string, status: 'done' | 'canceled'): Promise<BatchRow> {
  if (status === 'canceled') {
    await sql`UPDATE batch_recipients SET outcome = 'canceled', locked_until = NULL, updated_at = now() WHERE batch_id = ${id} AND outcome = 'pending'`.execute(trx);
  }
  const result = await sql<BatchRow>`
    UPDATE session_batches SET status = ${status}, finished_at = now() WHERE id = ${id} AND status = 'running' RETURNING *
  `.execute(trx);
  return result.rows[0]!;
}

/** How many batches are running, for metrics. */
export async function runningBatches(db: Db): Promise<number> {
  const result = await sql<{ n: number }>`SELECT count(*)::integer AS n FROM session_batches WHERE status = 'running'`.execute(db);
  return Number(result.rows[0]?.n ?? 0);
}
