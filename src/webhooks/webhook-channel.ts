import type { Channel } from '../live-chats/model.js';
import { type LiveChatService, liveChatNotFound } from '../live-chats/service.js';
import { Refusal } from '../domain/refusal.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const LABELS: Record<Channel['type'], string> = { whatsapp: 'WhatsApp', telegram: 'Telegram', email: 'email' };

/**
 * The channel, with its secrets, of the live chat a webhook URL names. Throws 404
 * live_chat_not_found when there is no such live chat or it is on another channel (a
 * malformed id is simply unknown: the lookup runs before the path is validated), and 503
 * secrets_unreadable when its secrets cannot be opened (the provider retries later).
 */
export async function webhookChannel<T extends Channel['type']>(
  liveChats: LiveChatService,
  liveChatId: string,
  type: T,
): Promise<Extract<Channel, { type: T }>> {
  if (!UUID.test(liveChatId)) throw liveChatNotFound(liveChatId);
  const { channel } = await liveChats.usable(liveChatId);
  if (channel.type !== type) {
    throw new Refusal('live_chat_not_found', `Live chat ${liveChatId} is not a ${LABELS[type]} live chat.`);
  }
  return channel as Extract<Channel, { type: T }>;
}
