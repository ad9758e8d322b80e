import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { ChannelType } from '../domain/channel.js';
import type { MessageDirection, MessageError, MessageStatus, MessageTemplate } from '../domain/message.js';
import type { SessionStatus } from '../domain/session.js';

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;


export interface ApiKeysTable {
  id: Generated<string>;
  name: string;
  scopes: string[];
  key_hash: string;
  created_at: CreatedAt;
  revoked_at: Timestamp | null;
}

export interface LiveChatsTable {
  id: Generated<string>;
  name: string;
  channel_type: ChannelType;
  channel_settings: ColumnType<Record<string, unknown>, string, string>;
  channel_secrets: string;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface LiveChatOperatorsTable {
  live_chat_id: string;
  operator_id: string;
  assigned_at: CreatedAt;
}

export interface ContactsTable {
  id: Generated<string>;
  name: string;
  phones: string[];
  emails: string[];
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

/**
 * The searchable forms of contacts (migration 0011), written by triggers on `contacts`:
 * each folded name word, each folded email, and the digits of the phones, with the folded
 * name that orders the answer.
 */
export interface ContactSearchNamesTable {
  contact_id: string;
  word: string;
  sort_name: string;
}

export interface ContactSearchEmailsTable {
  contact_id: string;
  email: string;
  sort_name: string;
}

export interface ContactSearchPhonesTable {
  contact_id: string;
  digits: string;
  sort_name: string;
}

export interface SessionsTable {
  id: Generated<string>;
  live_chat_id: string;
  channel: ChannelType;
  contact_id: string;
  account: string;
  peer: string;
  operator_id: string;
  status: SessionStatus;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  closed_at: Timestamp | null;
}

export interface MessagesTable {
  id: Generated<string>;
  session_id: string;
  live_chat_id: string;
  direction: MessageDirection;
  text: string | null;
  template: ColumnType<MessageTemplate | null, string | null, string | null>;
  status: MessageStatus;
  provider_message_id: string | null;
  provider_recipient: string | null;
  error: ColumnType<MessageError | null, string | null, string | null>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp | null;
  locked_until: Timestamp | null;
  /** Storage order (migration 0002): a session's outbound messages are delivered in this order. */
  seq: Generated<number>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface ChannelContactsTable {
  id: Generated<string>;
  live_chat_id: string;
  external_user_id: string;
  chat_id: string | null;
  username: string | null;
  phone: string | null;
  first_inbound_at: Timestamp;
  last_inbound_at: Timestamp;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface ProcessedEventsTable {
  live_chat_id: string;
  event_id: string;
  processed_at: CreatedAt;
}

export interface EarlyDeliveryStatusesTable {
  live_chat_id: string;
  provider_message_id: string;
  status: 'sent' | 'delivered' | 'read' | 'failed';
  error: ColumnType<MessageError | null, string | null, string | null>;
  reported_at: Timestamp;
  received_at: CreatedAt;
}

export interface IdempotencyKeysTable {
  api_key_id: string;
  key: string;
  fingerprint: string;
  status: 'running' | 'done';
  response_code: number | null;
  response_body: ColumnType<unknown, string | null, string | null>;
  locked_until: Timestamp;
  expires_at: Timestamp;
  created_at: CreatedAt;
}

export interface Database {
  api_keys: ApiKeysTable;
  live_chats: LiveChatsTable;
  live_chat_operators: LiveChatOperatorsTable;
  contacts: ContactsTable;
  contact_search_names: ContactSearchNamesTable;
  contact_search_emails: ContactSearchEmailsTable;
  contact_search_phones: ContactSearchPhonesTable;
  sessions: SessionsTable;
  messages: MessagesTable;
  channel_contacts: ChannelContactsTable;
  processed_events: ProcessedEventsTable;
  early_delivery_statuses: EarlyDeliveryStatusesTable;
  idempotency_keys: IdempotencyKeysTable;
}

export type ApiKeyRow = Selectable<ApiKeysTable>;
export type LiveChatRow = Selectable<LiveChatsTable>;
export type ContactRow = Selectable<ContactsTable>;
export type NewContact = Insertable<ContactsTable>;
export type ContactUpdate = Updateable<ContactsTable>;
export type SessionRow = Selectable<SessionsTable>;
export type MessageRow = Selectable<MessagesTable>;
export type ChannelContactRow = Selectable<ChannelContactsTable>;
