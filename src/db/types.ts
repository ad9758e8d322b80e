import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { ChannelType } from '../domain/channel.js';
import type { MessageDirection, MessageError, MessageKind, MessageMedia, MessageStatus, MessageTemplate } from '../domain/message.js';
import type { SessionOrigin, SessionStatus } from '../domain/session.js';
import type { EventDeliveryStatus, SubscriptionStatus } from '../domain/event.js';
import type { LiveChatPacingTable, OptOutsTable, WhatsAppTemplateCataloguesTable, WhatsAppTemplatesTable } from './provider-rule-tables.js';

export type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
export type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface ApiKeysTable {
  id: Generated<string>;
  name: string;
  scopes: string[];
  /** The live chats a restricted key acts in; null: every live chat. */
  live_chat_ids: ColumnType<string[] | null, string[] | null | undefined, string[] | null>;
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

/** Every suffix of 3+ digits of every phone (migration 0018): a fragment is a range of them. */
export interface ContactSearchPhoneSuffixesTable {
  suffix: string;
  sort_name: string;
  contact_id: string;
}

export interface SessionsTable {
  id: Generated<string>;
  live_chat_id: string;
  channel: ChannelType;
  contact_id: string;
  account: string;
  peer: string;
  /** Null only while a session a customer's message opened waits in the queue. */
  operator_id: string | null;
  origin: ColumnType<SessionOrigin, SessionOrigin | undefined, SessionOrigin>;
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
  kind: ColumnType<MessageKind, MessageKind | undefined, MessageKind>;
  text: string | null;
  media: ColumnType<MessageMedia | null, string | null | undefined, string | null>;
  subject: string | null;
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

export interface EventsTable {
  /** Log order within a transaction; readers order by (xid, position). */
  position: Generated<number>;
  id: string;
  type: string;
  live_chat_id: string;
  occurred_at: ColumnType<Date, Date | string | undefined, never>;
  data: ColumnType<Record<string, unknown>, string, never>;
  /** The writing transaction (xid8, as text); set by the database. */
  xid: ColumnType<string, never, never>;
}

export interface EventSubscriptionsTable {
  id: Generated<string>;
  url: string;
  types: string[] | null;
  live_chat_ids: string[] | null;
  description: string | null;
  status: ColumnType<SubscriptionStatus, SubscriptionStatus | undefined, SubscriptionStatus>;
  /** Sealed `{ current, previous? }` secrets. */
  secrets: string;
  previous_secret_expires_at: Timestamp | null;
  after_xid: ColumnType<string, never, string>;
  after_position: ColumnType<number, never, number>;
  since_snapshot: ColumnType<string, never, string>;
  /** The lease of a window of the log being sent (migration 0019), and its slots. */
  window_until: ColumnType<Date | null, never, Date | null>;
  window_slots: ColumnType<number, never, number>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface EventDeliveriesTable {
  id: Generated<string>;
  live_chat_id: string;
  event_id: string;
  subscription_id: string;
  status: ColumnType<EventDeliveryStatus, EventDeliveryStatus | undefined, EventDeliveryStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: ColumnType<Date | null, Date | string | undefined, Date | string | null>;
  locked_until: Timestamp | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface EventWindowDeliveriesTable {
  subscription_id: string;
  id: Generated<string>;
  created_at: CreatedAt;
  event_ids: string[];
  live_chat_ids: string[];
  status_codes: number[];
}

export interface Database {
  api_keys: ApiKeysTable;
  live_chats: LiveChatsTable;
  live_chat_operators: LiveChatOperatorsTable;
  contacts: ContactsTable;
  contact_search_names: ContactSearchNamesTable;
  contact_search_emails: ContactSearchEmailsTable;
  contact_search_phones: ContactSearchPhonesTable;
  contact_search_phone_suffixes: ContactSearchPhoneSuffixesTable;
  sessions: SessionsTable;
  messages: MessagesTable;
  channel_contacts: ChannelContactsTable;
  processed_events: ProcessedEventsTable;
  early_delivery_statuses: EarlyDeliveryStatusesTable;
  idempotency_keys: IdempotencyKeysTable;
  events: EventsTable;
  event_subscriptions: EventSubscriptionsTable;
  event_deliveries: EventDeliveriesTable;
  event_window_deliveries: EventWindowDeliveriesTable;
  live_chat_pacing: LiveChatPacingTable;
  opt_outs: OptOutsTable;
  whatsapp_template_catalogues: WhatsAppTemplateCataloguesTable;
  whatsapp_templates: WhatsAppTemplatesTable;
}

export type ApiKeyRow = Selectable<ApiKeysTable>;
export type LiveChatRow = Selectable<LiveChatsTable>;
export type ContactRow = Selectable<ContactsTable>;
export type NewContact = Insertable<ContactsTable>;
export type ContactUpdate = Updateable<ContactsTable>;
export type SessionRow = Selectable<SessionsTable>;
export type MessageRow = Selectable<MessagesTable>;
export type ChannelContactRow = Selectable<ChannelContactsTable>;
export type EventSubscriptionRow = Selectable<EventSubscriptionsTable>;
export type EventDeliveryRow = Selectable<EventDeliveriesTable>;
export type OptOutRow = Selectable<OptOutsTable>;
export type WhatsAppTemplateRow = Selectable<WhatsAppTemplatesTable>;
