import { type Kysely, type Transaction, sql } from 'kysely';
import type { Database, MessageError, MessageStatus } from '../db/types.js';

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
 * Applies a delivery report to the outbound message with this provider id on the live chat.
 * Returns true when the message moved; false when the id is unknown or the report would move
 * it backwards. One conditional UPDATE, so concurrent reports cannot race each other backwards.
 */
export async function applyDeliveryStatus(
  db: Db,
  liveChatId: string,
  providerMessageId: string,
  report: { status: DeliveryStatus; error: MessageError | null; at: Date },
): Promise<boolean> {
  const updated = await db
    .updateTable('messages')
    .set({
      status: report.status,
      ...(report.status === 'failed' ? { error: report.error ? JSON.stringify(report.error) : null, next_attempt_at: null } : {}),
      updated_at: report.at,
    })
    .where('live_chat_id', '=', liveChatId)
    .where('provider_message_id', '=', providerMessageId)
    .where('direction', '=', sql.lit('outbound'))
    // Literals: the allowed states are fixed per report, and the predicate stays plan-stable.
    .where(sql<boolean>`status in (${sql.join(MOVES_FROM[report.status].map((s) => sql.lit(s)))})`)
    .returning('id')
    .executeTakeFirst();
  return updated !== undefined;
}
