import { type Kysely, type Transaction, sql } from 'kysely';
import { messageEvents } from '../events/snapshots.js';
import { deleteInChunks } from '../db/purge.js';
import type { Database } from '../db/types.js';
import type { MessageError, MessageStatus } from '../domain/message.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A provider's report on an outbound message. */
export type DeliveryStatus = 'sent' | 'delivered' | 'read' | 'failed';

/**
 * The states each report may move a message out of. Ranks queued/sent = 1 < delivered = 2 <
 * read = 3, and a message never moves backwards, so reports that arrive out of order (read
 * before delivered) or late (a delivered after a failure) change nothing. `failed` ends a
 * message only while no later progress was reported.
 */
const MOVES_FROM: Record<DeliveryStatus, readonly MessageStatus[]> = {
  sent: ['queued'],
  delivered: ['queued', 'sent'],
  read: ['queued', 'sent', 'delivered'],
  failed: ['queued', 'sent'],
};

/**
 * Applies a delivery report to the outbound message with this provider id on the live chat,
 * appending its `message.<status>` event in the same statement. Returns true when the message
 * moved; false when the id is unknown or the report would move it backwards. One conditional
 * UPDATE, so concurrent reports cannot race each other backwards.
 */
export async function applyDeliveryStatus(
  db: Db,
  liveChatId: string,
  providerMessageId: string,
  report: { status: DeliveryStatus; error: MessageError | null; at: Date },
): Promise<boolean> {
  const result = await sql<{ id: string }>`
    WITH ${movedMessage(liveChatId, providerMessageId, report)}
    SELECT id FROM moved
  `.execute(db);
  return result.rows.length > 0;
}

/**
 * The CTEs `moved` (the conditional UPDATE of applyDeliveryStatus, returning the message it
 * moved) and `moved_event` (its event: the status it moved to).
 */
function movedMessage(liveChatId: string, providerMessageId: string, report: { status: DeliveryStatus; error: MessageError | null; at: Date }) {
  const failed = report.status === 'failed';
  // Literals: the allowed states are fixed per report, and the predicate stays plan-stable.
  const from = sql.join(MOVES_FROM[report.status].map((status) => sql.lit(status)));
  return sql`
    moved AS (
      UPDATE messages
      SET status = ${report.status}, updated_at = ${report.at}
          ${failed ? sql`, error = ${report.error ? JSON.stringify(report.error) : null}::jsonb, next_attempt_at = NULL` : sql``}
      WHERE live_chat_id = ${liveChatId} AND provider_message_id = ${providerMessageId} AND direction = 'outbound' AND status IN (${from})
      RETURNING *
    ),
    moved_event AS (${messageEvents(sql<string>`'message.' || m.status`, 'moved')})`;
}

/** What became of a report: it moved its message, it waits for its message, or it changed nothing. */
export type ReportOutcome = 'moved' | 'kept' | 'unchanged';

/**
 * Applies a delivery report as applyDeliveryStatus does and, when no message on the live chat
 * carries the provider id yet, keeps the report in early_delivery_statuses to be applied once
 * one does (applyEarlyDeliveryStatuses): the provider may report on a message before the
 * dispatcher has recorded the id it answered with. One statement, so the message is judged
 * known or unknown in one snapshot: a report is never both dropped and left unapplied.
 */
export async function applyOrKeepDeliveryStatus(
  db: Db,
  liveChatId: string,
  providerMessageId: string,
  report: { status: DeliveryStatus; error: MessageError | null; reportedAt: Date; at: Date },
): Promise<ReportOutcome> {
  const error = report.error ? JSON.stringify(report.error) : null;
  const result = await sql<{ moved: boolean; kept: boolean }>`
    WITH ${movedMessage(liveChatId, providerMessageId, report)},
    kept AS (
      INSERT INTO early_delivery_statuses (live_chat_id, provider_message_id, status, error, reported_at, received_at)
      SELECT ${liveChatId}::uuid, ${providerMessageId}::text, ${report.status}::text, ${error}::jsonb, ${report.reportedAt}::timestamptz, ${report.at}::timestamptz
      WHERE NOT EXISTS (SELECT 1 FROM messages WHERE live_chat_id = ${liveChatId} AND provider_message_id = ${providerMessageId})
      ON CONFLICT DO NOTHING
      RETURNING status
    )
    SELECT EXISTS (SELECT 1 FROM moved) AS moved, EXISTS (SELECT 1 FROM kept) AS kept
  `.execute(db);
  const row = result.rows[0]!;
  return row.moved ? 'moved' : row.kept ? 'kept' : 'unchanged';
}

/** How a report ranks among ones with the same time: the order a message goes through them. */
const RANK: Record<DeliveryStatus, number> = { sent: 1, delivered: 2, read: 3, failed: 4 };

/**
 * Applies the reports kept by applyOrKeepDeliveryStatus whose message now carries the provider
 * id, each message's in the order the provider made them, and forgets them. One transaction:
 * replicas running it at once apply each report once. Returns how many moved a message.
 */
export async function applyEarlyDeliveryStatuses(db: Kysely<Database>, now: Date): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{
      live_chat_id: string;
      provider_message_id: string;
      status: DeliveryStatus;
      error: MessageError | null;
      reported_at: Date;
    }>`
      DELETE FROM early_delivery_statuses AS e
      USING messages AS m
      WHERE m.live_chat_id = e.live_chat_id AND m.provider_message_id = e.provider_message_id
      RETURNING e.live_chat_id, e.provider_message_id, e.status, e.error, e.reported_at
    `.execute(trx);
    rows.sort(
      (a, b) =>
        compare(a.provider_message_id, b.provider_message_id) ||
        new Date(a.reported_at).getTime() - new Date(b.reported_at).getTime() ||
        RANK[a.status] - RANK[b.status],
    );
    let moved = 0;
    for (const r of rows) {
      if (await applyDeliveryStatus(trx, r.live_chat_id, r.provider_message_id, { status: r.status, error: r.error, at: now })) moved += 1;
    }
    return moved;
  });
}

/** Forgets kept reports received before `before` that no message claimed. Returns how many. */
export function purgeEarlyDeliveryStatuses(db: Db, before: Date): Promise<number> {
  return deleteInChunks(db, 'early_delivery_statuses', sql`received_at < ${before}`);
}

/** Orders provider ids (or any strings) by code unit, the same in every process. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
