import type { ColumnType, Generated } from 'kysely';
import type { CreatedAt, Timestamp } from './types.js';

// The tables that keep the providers' rules: pacing, opt-outs, the WhatsApp template catalogue.

export interface LiveChatPacingTable {
  live_chat_id: string;
  rate_per_second: number;
  next_slot_at: Timestamp;
  last_taken: ColumnType<number, number | undefined, number>;
}

export interface OptOutsTable {
  live_chat_id: string;
  account: string;
  id: Generated<string>;
  source: 'api' | 'keyword' | 'provider';
  reason: string | null;
  created_at: CreatedAt;
}

export interface WhatsAppTemplateCataloguesTable {
  live_chat_id: string;
  version: ColumnType<number, number | undefined, number>;
  synced_at: Timestamp | null;
  next_sync_at: Timestamp;
}

export interface WhatsAppTemplatesTable {
  live_chat_id: string;
  name: string;
  language: string;
  status: string;
  category: string | null;
  provider_id: string | null;
  components: ColumnType<unknown[], string, string>;
  synced_at: Timestamp;
}
