import type { Kysely } from 'kysely';
import { normalisePhone } from '../accounts/accounts.js';
import { recordChannelContact } from '../channel-contacts/repository.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/types.js';
import { Refusal } from '../domain/refusal.js';
import type { LiveChatService } from '../live-chats/service.js';
import { storeInboundMessage } from '../sessions/inbound.js';
import { eventTime } from './event-time.js';
import { recordProcessedEvent } from './inbound-repository.js';
import type { TelegramUpdate } from './schemas.js';
import { secretsMatch } from './signature.js';
import { telegramInboundContent } from './telegram-content.js';
import { webhookChannel } from './webhook-channel.js';
import type { InboundHooks } from './inbound-hooks.js';

export type TelegramOutcome = 'processed' | 'duplicate' | 'ignored';

type TelegramMessage = NonNullable<TelegramUpdate['message']>;

/** Telegram Updates: who has written to the bot (the prior-contact rule) and what they wrote. */
export class TelegramWebhookService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly liveChats: LiveChatService,
    private readonly clock: Clock,
    private readonly hooks: InboundHooks,
  ) {}

  /**
   * Checks `X-Telegram-Bot-Api-Secret-Token` against the live chat's webhookSecret in constant
   * time. Throws 404 live_chat_not_found (unknown or not Telegram) and 401
   * invalid_webhook_secret (wrong or missing, or no secret configured).
   */
  async authenticate(liveChatId: string, presentedSecret: string | undefined): Promise<void> {
    const channel = await webhookChannel(this.liveChats, liveChatId, 'telegram');
    if (!channel.webhookSecret || !secretsMatch(presentedSecret, channel.webhookSecret)) {
      throw new Refusal('invalid_webhook_secret', 'X-Telegram-Bot-Api-Secret-Token does not match this live chat’s webhook secret.');
    }
  }

  /**
   * Applies one Update in one short transaction: records the person in channel_contacts (with
   * their phone when they shared their own contact) and stores their message, of any kind, on
   * their open session, else on a new one in the queue (see storeInboundMessage).
   * Returns `duplicate` for an update_id seen before (nothing changes) and `ignored` for
   * updates that are not a person's message in a private chat. Safe to retry.
   */
  async handleUpdate(liveChatId: string, update: TelegramUpdate): Promise<TelegramOutcome> {
    if (update.my_chat_member) return this.#handleChatMember(liveChatId, update.update_id, update.my_chat_member);
    const message = update.message;
    const sender = message?.from;
    if (!message || !sender || sender.is_bot === true || message.chat.type !== 'private') return 'ignored';
    const at = eventTime(message.date, this.clock);
    const phone = sharedOwnPhone(message, sender.id);

    return this.db.transaction().execute(async (trx) => {
      if (!(await recordProcessedEvent(trx, liveChatId, `tg:${update.update_id}`, this.clock.now()))) return 'duplicate';
      const known = await recordChannelContact(trx, {
        liveChatId,
        externalUserId: String(sender.id),
        chatId: String(message.chat.id),
        username: sender.username ?? null,
        phone,
        at,
      });
      // A session with them is addressed by their shared phone, else their username, else their id.
      const account = known.phone ?? (known.username ? `@${known.username.toLowerCase()}` : `tg:${sender.id}`);
      const name = [sender.first_name, sender.last_name].filter(Boolean).join(' ');
      const person = { liveChatId, channel: 'telegram' as const, account, peer: `tg:${sender.id}`, name: name || account, detail: known.phone ? { column: 'phones' as const, value: known.phone } : null };
      // message_id counts per chat, so the chat makes it unique on the live chat.
      const providerMessageId = `${message.chat.id}:${message.message_id}`;
      await this.hooks.consent.fromMessage(trx, { liveChatId, channel: 'telegram', account: person.peer, text: message.text ?? null });
      await storeInboundMessage(trx, person, { ...telegramInboundContent(message), subject: null, providerMessageId, at });
      return 'processed';
    });
  }

  /** The person blocked the bot (`kicked`) or unblocked it (`member`): consent, once per update_id. */
  #handleChatMember(liveChatId: string, updateId: number, change: NonNullable<TelegramUpdate['my_chat_member']>): Promise<TelegramOutcome> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await recordProcessedEvent(trx, liveChatId, `tg:${updateId}`, this.clock.now()))) return 'duplicate';
      return (await this.hooks.consent.fromChatMember(trx, liveChatId, change)) ? 'processed' : 'ignored';
    });
  }
}

/**
 * The phone of a shared contact, in E.164, when it is the sender's own (a contact card of
 * someone else says nothing about who is writing). Telegram may send it without `+`.
 */
function sharedOwnPhone(message: TelegramMessage, senderId: number): string | null {
  const contact = message.contact;
  if (!contact || contact.user_id !== senderId) return null;
  const given = contact.phone_number.trim();
  // Telegram knows the number works: a plan newer than our metadata must not lose it.
  const phone = normalisePhone(given.startsWith('+') ? given : `+${given}`, 'possible');
  return phone.ok ? phone.value : null;
}
