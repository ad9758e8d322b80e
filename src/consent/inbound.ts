import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/types.js';
import { recordConsentChange } from './consent-change.js';

export interface ConsentKeywords {
  /** OPT_OUT_KEYWORDS, e.g. STOP. */
  optOut: readonly string[];
  /** OPT_IN_KEYWORDS, e.g. START. */
  optIn: readonly string[];
}

/** Telegram's `my_chat_member` update, as far as it is read here. */
export interface ChatMemberUpdate {
  chat: { id: number; type: string };
  from: { id: number; is_bot?: boolean | undefined };
  new_chat_member: { status?: string | undefined };
}

const keywordForm = (text: string) => text.normalize('NFC').trim().toUpperCase();

/**
 * What people say about consent through the providers: a whole inbound text that is an
 * opt-out keyword opts them out (`source: keyword`), an opt-in keyword back in; on Telegram,
 * blocking the bot opts them out (`source: provider`), and unblocking it or writing to it
 * again lifts that (but not a STOP or an opt-out made through the API).
 */
export class InboundConsent {
  readonly #optOut: ReadonlySet<string>;
  readonly #optIn: ReadonlySet<string>;

  constructor(keywords: ConsentKeywords) {
    this.#optOut = new Set(keywords.optOut.map(keywordForm));
    this.#optIn = new Set(keywords.optIn.map(keywordForm));
  }

  /**
   * An inbound message of the person known on the live chat as `account` (a WhatsApp number in
   * today's form, `tg:<user id>`), in the webhook's transaction.
   */
  async fromMessage(trx: Transaction<Database>, m: { liveChatId: string; channel: 'whatsapp' | 'telegram'; account: string; text: string | null }): Promise<void> {
    const said = m.text === null ? null : keywordForm(m.text);
    const { liveChatId, account } = m;
    if (said !== null && this.#optOut.has(said)) {
      await recordConsentChange(trx, { kind: 'opted_out', liveChatId, account, source: 'keyword', reason: null });
    } else if (said !== null && this.#optIn.has(said)) {
      await recordConsentChange(trx, { kind: 'opted_in', liveChatId, account, source: 'keyword' });
    } else if (m.channel === 'telegram') {
      // Writing to the bot again means it is no longer blocked.
      await recordConsentChange(trx, { kind: 'opted_in', liveChatId, account, source: 'provider', lifts: ['provider'] });
    }
  }

  /**
   * A Telegram `my_chat_member` update of a private chat: `kicked` (the person blocked the bot)
   * opts them out, `member` (they unblocked it) lifts that. Other statuses change nothing.
   * False when it said nothing about consent.
   */
  async fromChatMember(trx: Transaction<Database>, liveChatId: string, update: ChatMemberUpdate): Promise<boolean> {
    if (update.chat.type !== 'private' || update.from.is_bot === true) return false;
    const account = `tg:${update.from.id}`;
    const status = update.new_chat_member.status;
    if (status === 'kicked') {
      await recordConsentChange(trx, { kind: 'opted_out', liveChatId, account, source: 'provider', reason: 'The person blocked the bot.' });
      return true;
    }
    if (status === 'member') {
      await recordConsentChange(trx, { kind: 'opted_in', liveChatId, account, source: 'provider', lifts: ['provider'] });
      return true;
    }
    return false;
  }
}

/** A Telegram send refused because the person blocked the bot: they opted out (`source: provider`). */
export async function optOutBlockedRecipient(db: Kysely<Database>, liveChatId: string, account: string): Promise<void> {
  await db.transaction().execute((trx) =>
    recordConsentChange(trx, { kind: 'opted_out', liveChatId, account, source: 'provider', reason: 'Telegram: the bot was blocked by the user.' }),
  );
}
