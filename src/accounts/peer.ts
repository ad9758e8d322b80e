import type { ChannelType } from '../domain/channel.js';
import { type Account, whatsAppPeer } from './accounts.js';

/**
 * The provider's identity of a person reached by this account, which the one-open-session rule
 * also keys on: WhatsApp numbers in today's form, emails lower-cased. (A Telegram person's is
 * their user id, `tg:<id>`, known only from the webhook.)
 */
export function peerOf(channel: ChannelType, account: Account): string {
  if (channel === 'whatsapp' && account.kind === 'phone') return whatsAppPeer(account.value);
  return account.kind === 'email' ? account.value.toLowerCase() : account.value;
}

/** The Account behind a session's stored (already normalised) account. */
export function storedAccount(value: string): Account {
  return { kind: value.startsWith('@') ? 'username' : value.startsWith('tg:') ? 'telegram_user' : value.includes('@') ? 'email' : 'phone', value };
}
