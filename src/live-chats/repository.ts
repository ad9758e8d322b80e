import { type Kysely, type Transaction, sql } from 'kysely';
import type { Database, LiveChatRow } from '../db/types.js';
import type { ChannelType } from '../domain/channel.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface LiveChatValues {
  name: string;
  channelType: ChannelType;
  settings: Record<string, unknown>;
  sealedSecrets: string;
}

export function insertLiveChat(db: Db, values: LiveChatValues): Promise<LiveChatRow> {
  return db
    .insertInto('live_chats')
    .values({
      name: values.name,
      channel_type: values.channelType,
      channel_settings: JSON.stringify(values.settings),
      channel_secrets: values.sealedSecrets,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findLiveChat(db: Db, id: string): Promise<LiveChatRow | undefined> {
  return db.selectFrom('live_chats').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Locks the row for the rest of the transaction (a PATCH reads, merges, writes). */
export function findLiveChatForUpdate(db: Transaction<Database>, id: string): Promise<LiveChatRow | undefined> {
  return db.selectFrom('live_chats').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Queued outbound messages of the live chat: the ready part of the outbox and the leased part. */
export async function countQueuedMessages(db: Db, liveChatId: string): Promise<number> {
  // Two counts, each over its own partial index (a backlog can be long; in flight are few).
  const result = await sql<{ n: number }>`
    SELECT (SELECT count(*) FROM messages WHERE live_chat_id = ${liveChatId} AND status = 'queued' AND locked_until IS NULL)::integer
         + (SELECT count(*) FROM messages WHERE live_chat_id = ${liveChatId} AND status = 'queued' AND locked_until IS NOT NULL)::integer AS n
  `.execute(db);
  return result.rows[0]?.n ?? 0;
}

/** Newest first; only the given ids when `within` is not null. */
export function listLiveChats(db: Db, within: readonly string[] | null = null): Promise<LiveChatRow[]> {
  let query = db.selectFrom('live_chats').selectAll();
  if (within) query = within.length > 0 ? query.where('id', 'in', within) : query.where(sql.lit(false));
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
}

export function updateLiveChat(db: Db, id: string, values: Omit<LiveChatValues, 'channelType'>): Promise<LiveChatRow> {
  return db
    .updateTable('live_chats')
    .set({
      name: values.name,
      channel_settings: JSON.stringify(values.settings),
      channel_secrets: values.sealedSecrets,
      updated_at: new Date(),
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Assigns an operator; assigning twice keeps the first assignment time. */
export async function assignOperator(db: Db, liveChatId: string, operatorId: string): Promise<void> {
  await db
    .insertInto('live_chat_operators')
    .values({ live_chat_id: liveChatId, operator_id: operatorId })
    .onConflict((oc) => oc.columns(['live_chat_id', 'operator_id']).doNothing())
    .execute();
}

export async function unassignOperator(db: Db, liveChatId: string, operatorId: string): Promise<void> {
  await db.deleteFrom('live_chat_operators').where('live_chat_id', '=', liveChatId).where('operator_id', '=', operatorId).execute();
}

export function listOperators(db: Db, liveChatId: string): Promise<{ operator_id: string; assigned_at: Date }[]> {
  return db
    .selectFrom('live_chat_operators')
    .select(['operator_id', 'assigned_at'])
    .where('live_chat_id', '=', liveChatId)
    .orderBy('assigned_at')
    .orderBy('operator_id')
    .execute();
}

export async function isOperatorAssigned(db: Db, liveChatId: string, operatorId: string): Promise<boolean> {
  const row = await db
    .selectFrom('live_chat_operators')
    .select('operator_id')
    .where('live_chat_id', '=', liveChatId)
    .where('operator_id', '=', operatorId)
    .executeTakeFirst();
  return row !== undefined;
}
