import { type Kysely, type Transaction, sql } from 'kysely';
import type { Database, MessageRow, SessionRow } from '../db/types.js';
import type { ChannelType } from '../domain/channel.js';
import type { MessageKind, MessageMedia } from '../domain/message.js';
import { messageEvents, sessionEvents } from '../events/snapshots.js';
import { findOpenSession } from './repository.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Who wrote, as the channel knows them. */
export interface InboundPerson {
  liveChatId: string;
  channel: ChannelType;
  /** How a session with them is addressed: a phone, `@username`, `tg:<user id>` or an email address. */
  account: string;
  /** The provider's identity of the person, which the one-open-session rule keys on. */
  peer: string;
  /** A name for a new contact: their profile name on the channel, or the account. */
  name: string;
  /** The contact detail that finds them in the directory (their phone or email), if any. */
  detail: { column: 'phones' | 'emails'; value: string } | null;
}

/** What they sent. */
export interface InboundContent {
  kind: MessageKind;
  text: string | null;
  media: MessageMedia | null;
  subject: string | null;
  /** The provider's id of the message: a redelivery with the same id is stored once. */
  providerMessageId: string;
  at: Date;
}

export interface StoredInbound {
  session: SessionRow;
  message: MessageRow;
  /** The message opened this session (it waits in the queue). */
  opened: boolean;
}

/**
 * Stores a message a person sent — nothing a customer sends is dropped: on the given session
 * (an email thread's), else on their open session on the live chat, else on a new session with
 * origin `inbound` and no operator, for the contact that holds their account (their latest
 * session's on this live chat, else one with that phone or email, else a new one named after
 * them). Returns null for a message stored before. Runs in the caller's transaction, which
 * also gets the `message.received` event (and `session.created` for a session it opens).
 */
export async function storeInboundMessage(db: Db, person: InboundPerson, content: InboundContent, options: { session?: SessionRow } = {}): Promise<StoredInbound | null> {
  if (await isStored(db, person.liveChatId, content.providerMessageId)) return null;
  let session = options.session ?? (await findOpenSession(db, person.liveChatId, { account: person.account, peer: person.peer }));
  let opened = false;
  for (let attempt = 0; !session && attempt < 3; attempt++) {
    const contactId = await contactOf(db, person);
    session = await openInboundSession(db, person, contactId);
    opened = session !== undefined;
    // Another session holds the person (a concurrent message or initiation, or their contact's
    // session through another account): the message goes there.
    session ??= await findOpenSession(db, person.liveChatId, { account: person.account, peer: person.peer, contactId: contactId ?? undefined });
  }
  if (!session) throw new Error('No open session could be found or opened for an inbound message.');
  const media = content.media ? JSON.stringify(content.media, (_key, value: unknown) => (typeof value === 'string' ? storable(value) : value)) : null;
  const inserted = await sql<MessageRow>`
    WITH received AS (
      INSERT INTO messages (session_id, live_chat_id, direction, kind, text, media, subject, status, provider_message_id, created_at, updated_at)
      VALUES (${session.id}, ${person.liveChatId}, 'inbound', ${content.kind}, ${content.text === null ? null : storable(content.text)}, ${media}::jsonb,
              ${content.subject === null ? null : storable(content.subject)}, 'received', ${content.providerMessageId}, ${content.at}, ${content.at})
      RETURNING *
    ),
    event AS (${messageEvents('message.received', 'received')})
    SELECT * FROM received
  `.execute(db);
  return { session, message: inserted.rows[0]!, opened };
}

async function isStored(db: Db, liveChatId: string, providerMessageId: string): Promise<boolean> {
  const row = await db
    .selectFrom('messages')
    .select('id')
    .where('live_chat_id', '=', liveChatId)
    .where('provider_message_id', '=', providerMessageId)
    .executeTakeFirst();
  return row !== undefined;
}

/** The contact the person is in the directory as, or null when none holds their account. */
async function contactOf(db: Db, person: InboundPerson): Promise<string | null> {
  const earlier = await db
    .selectFrom('sessions')
    .select('contact_id')
    .where('live_chat_id', '=', person.liveChatId)
    .where('peer', '=', person.peer)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (earlier) return earlier.contact_id;
  if (!person.detail) return null;
  const holder = await db
    .selectFrom('contacts')
    .select('id')
    .where(sql<boolean>`${sql.ref(person.detail.column)} @> ARRAY[${person.detail.value}]::text[]`)
    .orderBy('created_at')
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
  return holder?.id ?? null;
}

/**
 * Opens the person's session, unassigned, unless an open session holds them already
 * (undefined). A new contact is created with it, and only then — in one statement, so that a
 * lost race leaves no contact behind.
 */
async function openInboundSession(db: Db, person: InboundPerson, contactId: string | null): Promise<SessionRow | undefined> {
  const phones = person.detail?.column === 'phones' ? [person.detail.value] : [];
  const emails = person.detail?.column === 'emails' ? [person.detail.value] : [];
  const result = await sql<SessionRow>`
    WITH input AS MATERIALIZED (SELECT uuid_v7() AS sid, coalesce(${contactId}::uuid, uuid_v7()) AS cid),
    written AS (
      INSERT INTO sessions (id, live_chat_id, channel, contact_id, account, peer, operator_id, origin, status)
      SELECT x.sid, ${person.liveChatId}::uuid, ${person.channel}, x.cid, ${person.account}, ${person.peer}, NULL, 'inbound', 'open'
      FROM input AS x
      ON CONFLICT DO NOTHING
      RETURNING *
    ),
    new_contact AS (
      INSERT INTO contacts (id, name, phones, emails)
      SELECT w.contact_id, ${storable(person.name).slice(0, 200) || person.account}, ${phones}::text[], ${emails}::text[] FROM written AS w WHERE ${contactId}::uuid IS NULL
      RETURNING id
    ),
    created AS (${sessionEvents('session.created', 'written')})
    SELECT * FROM written
  `.execute(db);
  return result.rows[0];
}

/**
 * Text as Postgres can store it, in a text column or in jsonb: without U+0000 (dropped), and
 * with a lone UTF-16 surrogate as U+FFFD. A provider may send either; a refused webhook would be
 * redelivered forever.
 */
function storable(text: string): string {
  return text.replaceAll('\u0000', '').replace(LONE_SURROGATES, '\uFFFD');
}
const LONE_SURROGATES = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
