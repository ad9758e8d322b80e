import { type Kysely, type Transaction, sql } from 'kysely';
import type { Database, MessageRow } from '../db/types.js';
import type { MessageContent } from '../domain/message.js';
import { replySubject } from './initiation-rows.js';
import type { OutboxEntry } from './outbound-queue.js';
import { catalogueGuard, consentGuard } from './write-guards.js';

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Queues an operator's message on a session, guarded: only while the session is open, the
 * operator assigned to its live chat, the person not opted out and the template catalogue as
 * checked. Undefined when a guard held it back.
 */
export async function insertOutboundMessage(
  db: Db,
  m: { sessionId: string; operatorId: string; content: MessageContent; catalogueVersion: number | null; outbox: OutboxEntry; at: Date },
): Promise<MessageRow | undefined> {
  const result = await sql<MessageRow>`
    INSERT INTO messages (session_id, live_chat_id, direction, kind, text, template, subject, status, next_attempt_at, locked_until, attempts, created_at, updated_at)
    SELECT s.id, s.live_chat_id, 'outbound', ${m.content.template ? 'template' : 'text'}, ${m.content.text ?? null},
           ${m.content.template ? JSON.stringify(m.content.template) : null}::jsonb,
           CASE WHEN s.channel = 'email' THEN coalesce(${m.content.subject ?? null}::text, ${sql.raw(replySubject('s.id'))}, (SELECT l.name FROM live_chats AS l WHERE l.id = s.live_chat_id)) END,
           'queued', ${m.at}, ${m.outbox.lockedUntil}, ${m.outbox.attempts}, ${m.at}, ${m.at}
    FROM sessions AS s
    WHERE s.id = ${m.sessionId} AND s.status = 'open'
      AND EXISTS (SELECT 1 FROM live_chat_operators AS o WHERE o.live_chat_id = s.live_chat_id AND o.operator_id = ${m.operatorId})
      AND ${consentGuard(sql`s.live_chat_id`, sql`ARRAY[s.account, s.peer]`)}
      AND ${catalogueGuard(sql`s.live_chat_id`, sql`${m.catalogueVersion}::integer`)}
    RETURNING *
  `.execute(db);
  return result.rows[0];
}

/**
 * A page of a session's messages in the order they were stored, after `afterSeq`; `limit + 1`
 * rows so the caller can tell whether another page follows. (An inbound message's time is the
 * provider's, in whole seconds for Telegram, so ordering by time could put a reply before the
 * message it answers.)
 */
export function listSessionMessages(db: Db, sessionId: string, page: { limit: number; afterSeq?: number | undefined }): Promise<MessageRow[]> {
  let q = db.selectFrom('messages').selectAll().where('session_id', '=', sessionId);
  if (page.afterSeq !== undefined) q = q.where('seq', '>', page.afterSeq);
  return q.orderBy('seq').limit(page.limit + 1).execute();
}
