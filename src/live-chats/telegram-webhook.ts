import { Refusal } from '../domain/refusal.js';
import { newWebhookSecret } from './patch.js';
import type { LiveChatService } from './service.js';

/** The update kinds the Telegram webhook reads; Telegram sends only these. */
export const TELEGRAM_UPDATE_KINDS = ['message', 'edited_message', 'my_chat_member'] as const;

export interface TelegramWebhookSettings {
  url: string;
  secretToken: string;
  allowedUpdates: readonly string[];
}

/** Telegram's setWebhook, as this module needs it (implemented by the Telegram channel client). */
export interface TelegramWebhookApi {
  /** Registers the bot's webhook. Resolves to Telegram's refusal (or a network failure) with its description; never throws. */
  setWebhook(botToken: string, settings: TelegramWebhookSettings): Promise<{ ok: true } | { ok: false; description: string }>;
}

/** Registers a Telegram live chat's webhook with Telegram, so that its updates reach this service. */
export class TelegramWebhookRegistration {
  constructor(
    private readonly liveChats: LiveChatService,
    private readonly telegram: TelegramWebhookApi,
    /** PUBLIC_BASE_URL, without a trailing slash. */
    private readonly publicBaseUrl: string | undefined,
  ) {}

  /**
   * Calls setWebhook with `<PUBLIC_BASE_URL>/webhooks/telegram/<id>`, the live chat's secret
   * (generated now for one that has none) and the update kinds read. Throws 404
   * live_chat_not_found (none, or not Telegram), 422 public_base_url_required, 503
   * secrets_unreadable, and 502 provider_error with Telegram's description.
   */
  async register(liveChatId: string): Promise<{ url: string }> {
    let chat = await this.liveChats.get(liveChatId);
    if (chat.channel.type !== 'telegram') throw new Refusal('live_chat_not_found', `Live chat ${liveChatId} is not a Telegram live chat.`);
    if (!this.publicBaseUrl) {
      throw new Refusal('public_base_url_required', 'Set PUBLIC_BASE_URL to the address Telegram reaches this service at, then register the webhook.');
    }
    chat = await this.liveChats.usable(liveChatId);
    if (chat.channel.type === 'telegram' && !chat.channel.webhookSecret) {
      chat = await this.liveChats.update(liveChatId, { channel: { webhookSecret: newWebhookSecret() } });
    }
    const channel = chat.channel as Extract<typeof chat.channel, { type: 'telegram' }>;
    const url = `${this.publicBaseUrl}/webhooks/telegram/${liveChatId}`;
    const answer = await this.telegram.setWebhook(channel.botToken, { url, secretToken: channel.webhookSecret!, allowedUpdates: TELEGRAM_UPDATE_KINDS });
    if (!answer.ok) throw new Refusal('provider_error', `Telegram refused setWebhook: ${answer.description}`);
    return { url };
  }
}
