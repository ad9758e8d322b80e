import { type Kysely, type Transaction, sql } from 'kysely';
import { whatsAppPeer } from '../accounts/accounts.js';
import type { ChannelContactRow, Database } from '../db/types.js';
import type { ChannelType } from '../domain/channel.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface ChannelContactSighting {
  liveChatId: string;
  /** The provider's id of the person: Telegram user id, WhatsApp wa_id. */
  externalUserId: string;
  chatId?: string | null | undefined;
  /**
   * The person's username as of this message: null when they have none (Telegram sends every
   * sender's username if they have one), undefined when the channel does not tell (WhatsApp).
   */
  username?: string | null | undefined;
  /** E.164, when known. */
  phone?: string | null | undefined;
  /** When the person wrote; the latest one wins. */
  at: Date;
}

/**
 * Records that a person wrote to a live chat's channel. Known details are kept when a later
 * message lacks them (a phone is shared once); the last inbound time only moves forward. A
 * username is what the newest message says, none included: a username given up can be taken
 * by someone else, and `@name` must not reach its former holder.
 */
export async function recordChannelContact(db: Db, s: ChannelContactSighting): Promise<ChannelContactRow> {
  return db
    .insertInto('channel_contacts')
    .values({
      live_chat_id: s.liveChatId,
      external_user_id: s.externalUserId,
      chat_id: s.chatId ?? null,
      username: s.username ?? null,
      phone: s.phone ?? null,
      first_inbound_at: s.at,
      last_inbound_at: s.at,
    })
    .onConflict((oc) =>
      oc.columns(['live_chat_id', 'external_user_id']).doUpdateSet({
        chat_id: sql`coalesce(excluded.chat_id, channel_contacts.chat_id)`,
        username:
          s.username === undefined
            ? sql`channel_contacts.username`
            : sql`CASE WHEN excluded.last_inbound_at >= channel_contacts.last_inbound_at THEN excluded.username ELSE channel_contacts.username END`,
        phone: sql`coalesce(excluded.phone, channel_contacts.phone)`,
        first_inbound_at: sql`least(channel_contacts.first_inbound_at, excluded.first_inbound_at)`,
        last_inbound_at: sql`greatest(channel_contacts.last_inbound_at, excluded.last_inbound_at)`,
        updated_at: sql`now()`,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The person behind a normalised account (`+E164`, `@username` or `tg:<user id>`), if they wrote to the channel. */
export function findChannelContactByAccount(
  db: Db,
  liveChatId: string,
  account: string,
  channel: ChannelType,
): Promise<ChannelContactRow | undefined> {
  let q = db.selectFrom('channel_contacts').selectAll().where('live_chat_id', '=', liveChatId);
  if (account.startsWith('@')) {
    q = q.where(sql<boolean>`lower(username) = ${account.slice(1).toLowerCase()}`);
  } else if (account.startsWith('tg:')) {
    q = q.where('external_user_id', '=', account.slice(3));
  } else if (channel === 'whatsapp') {
    // WhatsApp identifies people by wa_id, the number's digits; their phone is kept in peer form.
    q = q.where((eb) => eb.or([eb('phone', '=', whatsAppPeer(account)), eb('external_user_id', '=', account.replace(/^\+/, ''))]));
  } else {
    // Telegram knows a phone only once the person shared it; a user id is no phone number.
    q = q.where('phone', '=', account);
  }
  return q.orderBy('last_inbound_at', 'desc').limit(1).executeTakeFirst();
}

export function findChannelContactByExternalId(db: Db, liveChatId: string, externalUserId: string): Promise<ChannelContactRow | undefined> {
  return db
    .selectFrom('channel_contacts')
    .selectAll()
    .where('live_chat_id', '=', liveChatId)
    .where('external_user_id', '=', externalUserId)
    .executeTakeFirst();
}
