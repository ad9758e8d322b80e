import type { LiveChat } from '../live-chats/model.js';
import {
  type ChannelClient,
  type OutboundMessage,
  type SendFailure,
  type SendResult,
  permanent,
  sent,
  transient,
  wrongChannel,
} from './channel-client.js';
import type { TelegramWebhookApi, TelegramWebhookSettings } from '../live-chats/telegram-webhook.js';
import { type JsonResponse, field, postJson } from './http-json.js';

export interface TelegramClientOptions {
  /** `TELEGRAM_API_BASE_URL`, without a trailing slash (e.g. `https://api.telegram.org`). */
  baseUrl: string;
  timeoutMs: number;
}

/**
 * Telegram Bot API: `POST {base}/bot{botToken}/sendMessage` to the person's chat id. Telegram
 * numbers messages per chat, so the provider message id is `<chat id>:<message id>`, unique
 * within the bot.
 */
export class TelegramClient implements ChannelClient, TelegramWebhookApi {
  constructor(private readonly options: TelegramClientOptions) {}

  async setWebhook(botToken: string, settings: TelegramWebhookSettings): Promise<{ ok: true } | { ok: false; description: string }> {
    const response = await postJson(
      `${this.options.baseUrl}/bot${botToken}/setWebhook`,
      { url: settings.url, secret_token: settings.secretToken, allowed_updates: settings.allowedUpdates },
      { timeoutMs: this.options.timeoutMs },
    );
    if ('outcome' in response) return { ok: false, description: `Telegram did not answer: ${response.message}` };
    if (field(response.body, 'ok') === true) return { ok: true };
    const description = field(response.body, 'description');
    return { ok: false, description: typeof description === 'string' && description.length > 0 ? description : `Telegram answered HTTP ${response.status}.` };
  }

  async send(liveChat: LiveChat, message: OutboundMessage, signal?: AbortSignal): Promise<SendResult> {
    const channel = liveChat.channel;
    if (channel.type !== 'telegram') return wrongChannel('Telegram', liveChat);
    if (message.content.text === undefined) return permanent('template_not_supported', 'Telegram messages are text only.');
    const response = await postJson(
      `${this.options.baseUrl}/bot${channel.botToken}/sendMessage`,
      { chat_id: telegramChatId(message.to), text: message.content.text },
      { timeoutMs: this.options.timeoutMs, signal },
    );
    if ('outcome' in response) return response;
    const messageId = field(response.body, 'result', 'message_id');
    if (field(response.body, 'ok') === true && typeof messageId === 'number') {
      const chatId = field(response.body, 'result', 'chat', 'id');
      const chat = typeof chatId === 'number' || typeof chatId === 'string' ? String(chatId) : message.to;
      return sent(`${chat}:${messageId}`, chat);
    }
    if (field(response.body, 'ok') === true) {
      // Accepted, but we cannot track it; a retry could send it twice.
      return permanent('telegram_invalid_response', `Telegram answered ${response.status} without a message id.`);
    }
    return classifyTelegramError(response);
  }
}

/** Private chat ids fit a JS number; send them as one, as Telegram's examples do. */
function telegramChatId(to: string): number | string {
  const n = Number(to);
  return /^-?\d+$/.test(to) && Number.isSafeInteger(n) ? n : to;
}

/**
 * 429 waits `parameters.retry_after` seconds, 5xx is retried; 400 (chat not found), 401 (bad
 * token), 403 (blocked, cannot initiate) and the rest of 4xx are permanent.
 */
export function classifyTelegramError(response: Pick<JsonResponse, 'status' | 'body'>): SendFailure {
  const errorCode = field(response.body, 'error_code');
  const status = typeof errorCode === 'number' ? errorCode : response.status;
  const description = field(response.body, 'description');
  const message = typeof description === 'string' && description.length > 0 ? description : `Telegram answered HTTP ${response.status}.`;
  const code = `telegram_${status}`;
  if (status === 429) {
    const retryAfter = field(response.body, 'parameters', 'retry_after');
    return transient(code, message, typeof retryAfter === 'number' && retryAfter >= 0 ? retryAfter * 1000 : undefined);
  }
  if (status >= 500 || status < 400) return transient(code, message);
  if (status === 403 && /blocked by the user/i.test(message)) return { ...permanent(code, message), recipientBlocked: true };
  return permanent(code, message);
}
