import type { Kysely } from 'kysely';
import { type OutboundMessage, type PermanentFailure, permanent } from '../channels/channel-client.js';
import { MAX_REFERENCES } from '../channels/email-client.js';
import { findChannelContactByExternalId } from '../channel-contacts/repository.js';
import type { Database } from '../db/types.js';
import type { MessageContent } from '../domain/message.js';
import type { ClaimedMessage } from './outbox-repository.js';

/**
 * Turns a claimed outbox row into what a channel client sends: the person's address on the
 * channel and, for email, the conversation to thread on. A person we cannot address is a
 * permanent failure: retrying would not find them either.
 */
export async function prepareOutboundMessage(db: Kysely<Database>, claim: ClaimedMessage): Promise<OutboundMessage | PermanentFailure> {
  const content: MessageContent | null = claim.template
    ? { template: claim.template }
    : claim.text !== null
      ? { text: claim.text, ...(claim.subject !== null ? { subject: claim.subject } : {}) }
      : null;
  if (!content) return permanent('empty_message', 'The message has neither text nor a template.');
  switch (claim.channel) {
    case 'whatsapp':
      return { id: claim.id, to: claim.account, content, thread: [] };
    case 'telegram': {
      // A Telegram session's peer is `tg:<user id>`; the chat id comes from the webhook.
      const userId = claim.peer.startsWith('tg:') ? claim.peer.slice(3) : null;
      const contact = userId ? await findChannelContactByExternalId(db, claim.liveChatId, userId) : undefined;
      if (!contact) return permanent('telegram_chat_unknown', 'This person has not written to the bot, so there is no chat to send to.');
      // In a private chat the chat id equals the user id.
      return { id: claim.id, to: contact.chat_id ?? contact.external_user_id, content, thread: [] };
    }
    case 'email':
      return { id: claim.id, to: claim.account, content, thread: await findConversationThread(db, claim) };
  }
}

/**
 * Provider ids of the session's latest earlier messages — inbound ones and outbound ones that
 * were sent — oldest first: the conversation an email threads on (as far as it references).
 */
async function findConversationThread(db: Kysely<Database>, message: Pick<ClaimedMessage, 'sessionId' | 'seq'>): Promise<string[]> {
  const rows = await db
    .selectFrom('messages')
    .select('provider_message_id')
    .where('session_id', '=', message.sessionId)
    .where('seq', '<', message.seq)
    .where('provider_message_id', 'is not', null)
    .where((eb) => eb.or([eb('direction', '=', 'inbound'), eb('status', 'in', ['sent', 'delivered', 'read'])]))
    .orderBy('seq', 'desc')
    .limit(MAX_REFERENCES)
    .execute();
  return rows.map((r) => r.provider_message_id).filter((id): id is string => id !== null).reverse();
}
