import type { Kysely, Transaction } from 'kysely';
import type { Database, MessageRow } from '../db/types.js';
import type { MessageTemplate } from '../domain/message.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface OutboundContent {
  text?: string | undefined;
  template?: MessageTemplate | undefined;
}

/** Stores an outbound message as `queued`: the outbox row the dispatcher will deliver. */
export function queueOutboundMessage(db: Db, session: { id: string; liveChatId: string }, content: OutboundContent, at: Date): Promise<MessageRow> {
  return db
    .insertInto('messages')
    .values({
      session_id: session.id,
      live_chat_id: session.liveChatId,
      direction: 'outbound',
      text: content.text ?? null,
      template: content.template ? JSON.stringify(content.template) : null,
      status: 'queued',
      next_attempt_at: at,
      created_at: at,
      updated_at: at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Stores a message the person sent; `providerMessageId` makes a replayed event a no-op. */
export function insertInboundMessage(
  db: Db,
  values: { sessionId: string; liveChatId: string; text: string | null; providerMessageId: string; at: Date },
): Promise<MessageRow | undefined> {
  return db
    .insertInto('messages')
    .values({
      session_id: values.sessionId,
      live_chat_id: values.liveChatId,
      direction: 'inbound',
      text: values.text,
      status: 'received',
      provider_message_id: values.providerMessageId,
      created_at: values.at,
      updated_at: values.at,
    })
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

/**
 * A session's messages in the order they were stored. (An inbound message's time is the
 * provider's, in whole seconds for Telegram, so ordering by time could put a reply before the
 * message it answers.)
 */
export function listSessionMessages(db: Db, sessionId: string): Promise<MessageRow[]> {
  return db.selectFrom('messages').selectAll().where('session_id', '=', sessionId).orderBy('seq').execute();
}
