import type { MessageContent } from '../domain/message.js';
import type { LiveChat } from '../live-chats/model.js';

/** One outbound message, ready for a provider. Knows nothing about sessions. */
export interface OutboundMessage {
  /** Our id of the message; the same on every attempt (email derives its Message-ID from it). */
  id: string;
  /**
   * The person's address on the channel: an E.164 number (WhatsApp), a chat id (Telegram),
   * an email address (email).
   */
  to: string;
  content: MessageContent;
  /**
   * Provider ids of the earlier messages of the same conversation, oldest first, both
   * directions. Email threads on them (In-Reply-To, References); the messengers ignore them.
   */
  thread: readonly string[];
}

/** The provider accepted the message. */
export interface SendSuccess {
  outcome: 'sent';
  /** The provider's id of the message (WhatsApp wamid, Telegram `<chat id>:<message id>`, email Message-ID). */
  providerMessageId: string;
  /** The provider's id of the recipient when it reports one (WhatsApp wa_id, Telegram chat id, email address). */
  providerRecipient: string | null;
}

/** Worth trying again: network errors, timeouts, 5xx, rate limits. */
export interface TransientFailure {
  outcome: 'transient';
  /** A stable snake_case code, e.g. `whatsapp_130429`, `telegram_429`, `smtp_451`, `timeout`, `network_error`. */
  code: string;
  message: string;
  /** The wait the provider asked for (Telegram retry_after), if any. */
  retryAfterMs?: number | undefined;
}

/** Will never succeed as it is: invalid recipient, blocked bot, rejected template, bad credentials. */
export interface PermanentFailure {
  outcome: 'permanent';
  /** The provider's code, prefixed with the channel: `whatsapp_131026`, `telegram_403`, `smtp_550`. */
  code: string;
  /** The provider's own description. */
  message: string;
  /** The person blocked the sender (Telegram: "bot was blocked by the user"): they opted out. */
  recipientBlocked?: true | undefined;
}

export type SendFailure = TransientFailure | PermanentFailure;
export type SendResult = SendSuccess | SendFailure;

/**
 * A client for one provider's wire format. Implementations sit beside this file, one per
 * channel type; the ChannelRegistry picks one by the live chat's channel type.
 */
export interface ChannelClient {
  /**
   * Sends one message to an account over the live chat's channel (with its secrets).
   * Never throws for a provider or network failure: resolves to the provider's message id or
   * to a classified failure. A call that outlives the provider timeout, or is cancelled by
   * `signal`, resolves to a transient failure (`timeout`, `aborted`); the provider may still
   * have accepted the message, so a retry can duplicate it (delivery is at least once).
   * Safe to call concurrently.
   */
  send(liveChat: LiveChat, message: OutboundMessage, signal?: AbortSignal): Promise<SendResult>;

  /** Releases pooled connections; the client is not used afterwards. Resolves when done, never rejects. */
  close?(): Promise<void>;
}

export const sent = (providerMessageId: string, providerRecipient: string | null = null): SendSuccess => ({
  outcome: 'sent',
  providerMessageId,
  providerRecipient,
});

export const transient = (code: string, message: string, retryAfterMs?: number): TransientFailure => ({
  outcome: 'transient',
  code,
  message,
  ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
});

export const permanent = (code: string, message: string): PermanentFailure => ({ outcome: 'permanent', code, message });

/** The failure for a live chat handed to the client of another channel type (a wiring bug). */
export const wrongChannel = (expected: string, liveChat: LiveChat): PermanentFailure =>
  permanent('channel_mismatch', `A ${expected} client cannot send on a ${liveChat.channel.type} live chat.`);
