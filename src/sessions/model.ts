import type { MessageRow, SessionRow } from '../db/types.js';
import type { MessageKind, MessageMedia, MessageTemplate } from '../domain/message.js';
import type { QueuedMessage } from './outbound-queue.js';

export interface Session {
  id: string;
  liveChatId: string;
  channel: SessionRow['channel'];
  contactId: string;
  account: string;
  /** Null while a session a customer's message opened waits in the queue. */
  operatorId: string | null;
  origin: SessionRow['origin'];
  status: SessionRow['status'];
  createdAt: Date;
  updatedAt: Date;
  closedAt: Date | null;
}

export interface Message {
  id: string;
  sessionId: string;
  direction: MessageRow['direction'];
  kind: MessageKind;
  text: string | null;
  template: MessageTemplate | null;
  media: MessageMedia | null;
  subject: string | null;
  status: MessageRow['status'];
  providerMessageId: string | null;
  error: MessageRow['error'];
  attempts: number;
  createdAt: Date;
  updatedAt: Date;
}

export function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    liveChatId: row.live_chat_id,
    channel: row.channel,
    contactId: row.contact_id,
    account: row.account,
    operatorId: row.operator_id,
    origin: row.origin,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    closedAt: row.closed_at,
  };
}

export function toMessage(row: MessageRow): Message {
  return {
    id: row.id,
    sessionId: row.session_id,
    direction: row.direction,
    kind: row.kind,
    text: row.text,
    template: row.template,
    media: row.media,
    subject: row.subject,
    status: row.status,
    providerMessageId: row.provider_message_id,
    error: row.error,
    attempts: row.attempts,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** A message just queued, as delivery is told of it. */
export function toQueuedMessage(session: Pick<SessionRow, 'id' | 'live_chat_id' | 'channel' | 'account' | 'peer'>, message: MessageRow): QueuedMessage {
  return {
    id: message.id,
    sessionId: session.id,
    liveChatId: session.live_chat_id,
    channel: session.channel,
    account: session.account,
    peer: session.peer,
    seq: Number(message.seq),
    text: message.text,
    template: message.template,
    subject: message.subject,
    attempts: message.attempts,
    lockedUntil: message.locked_until,
  };
}
