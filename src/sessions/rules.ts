import type { Kysely, Transaction } from 'kysely';
import { type Account, accountFitsChannel, defaultAccountKind, parseAccount, whatsAppPeer } from '../accounts/accounts.js';
import { findChannelContactByAccount } from '../channel-contacts/repository.js';
import type { ChannelContactRow, Database } from '../db/types.js';
import type { ChannelType } from '../domain/channel.js';
import { type FieldError, Refusal } from '../domain/refusal.js';
import type { MessageContent } from './model.js';

type Db = Kysely<Database> | Transaction<Database>;

export const WHATSAPP_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Field errors for a message body that must carry exactly one of text and template. */
export function messageContentErrors(message: MessageContent | undefined, pointer: string): FieldError[] {
  if (!message) return [];
  const has = Number(message.text !== undefined) + Number(message.template !== undefined);
  if (has === 1) return [];
  return [{ field: pointer, code: has === 0 ? 'message_content_required' : 'message_content_ambiguous', message: 'Give exactly one of text and template.' }];
}

/** Parses `account` with its JSON Pointer; undefined input stays undefined. */
export function parseAccountField(input: string | undefined, errors: FieldError[]): Account | undefined {
  if (input === undefined) return undefined;
  const parsed = parseAccount(input);
  if (parsed.ok) return parsed.value;
  errors.push({ field: '/account', ...parsed.error });
  return undefined;
}

/**
 * Picks the account to reach the contact on this channel: the given one when it fits, else the
 * contact's only phone (messengers) or only email (inbox).
 */
export function resolveAccount(channel: ChannelType, given: Account | undefined, contact: { phones: string[]; emails: string[] }): Account {
  if (given) {
    if (!accountFitsChannel(given.kind, channel)) {
      const wants = channel === 'email' ? 'an email address' : channel === 'telegram' ? 'a phone number or @username' : 'a phone number';
      throw new Refusal('account_channel_mismatch', `A ${channel} live chat reaches people by ${wants}, not by ${describeKind(given.kind)}.`);
    }
    return given;
  }
  const kind = defaultAccountKind(channel);
  const candidates = kind === 'phone' ? contact.phones : contact.emails;
  if (candidates.length !== 1) {
    throw new Refusal(
      'account_required',
      candidates.length === 0
        ? `The contact has no ${kind === 'phone' ? 'phone number' : 'email address'}; give \`account\`.`
        : `The contact has ${candidates.length} ${kind === 'phone' ? 'phone numbers' : 'email addresses'}; give \`account\` to pick one.`,
    );
  }
  return { kind, value: candidates[0]! };
}

function describeKind(kind: Account['kind']): string {
  return kind === 'email' ? 'an email address' : kind === 'username' ? 'a @username' : 'a phone number';
}

/** Outbound templates exist on WhatsApp only. */
export function assertTemplateSupported(channel: ChannelType, message: MessageContent | undefined): void {
  if (message?.template && channel !== 'whatsapp') {
    throw new Refusal('template_not_supported', `Templates are a WhatsApp feature; send text on a ${channel} live chat.`);
  }
}

/** Telegram: a bot cannot write first, so the person must have written to it. Returns them. */
export async function requireTelegramPriorContact(db: Db, liveChatId: string, account: Account): Promise<ChannelContactRow> {
  const known = await findChannelContactByAccount(db, liveChatId, account.value, 'telegram');
  if (!known) {
    const how = account.kind === 'phone' ? ' and shared this phone number with it' : '';
    throw new Refusal('telegram_no_prior_contact', `${account.value} has not written to this bot${how}; a Telegram bot cannot start a conversation.`);
  }
  return known;
}

/** WhatsApp: free text only within 24 h of the person's last message; a template always. */
export async function requireWhatsAppWindow(db: Db, liveChatId: string, account: string, message: MessageContent | undefined, now: Date): Promise<void> {
  if (!message || message.template) return;
  const known = await findChannelContactByAccount(db, liveChatId, account, 'whatsapp');
  if (!known || now.getTime() - known.last_inbound_at.getTime() > WHATSAPP_WINDOW_MS) {
    throw new Refusal(
      'whatsapp_template_required',
      'WhatsApp accepts free text only within 24 hours of the person’s last message; send an approved template instead.',
    );
  }
}

/** The provider's identity of the person, which the one-open-session rule also keys on. */
export function peerOf(channel: ChannelType, account: Account, telegramContact?: ChannelContactRow): string {
  if (channel === 'telegram' && telegramContact) return `tg:${telegramContact.external_user_id}`;
  if (channel === 'whatsapp' && account.kind === 'phone') return whatsAppPeer(account.value);
  return account.kind === 'email' ? account.value.toLowerCase() : account.value;
}

/** The Account behind a session's stored (already normalised) account. */
export function storedAccount(value: string): Account {
  return { kind: value.startsWith('@') ? 'username' : value.includes('@') ? 'email' : 'phone', value };
}
