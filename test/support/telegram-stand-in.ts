import { HttpStandIn, type StandInReply } from './http-stand-in.js';

/**
 * The Telegram Bot API's `POST /bot{token}/sendMessage` and `setWebhook`, speaking the format of
 * shared/channels.md: message ids counted per chat, and the `ok:false` error body for the
 * replies tests program with `telegramError`.
 */
export async function startTelegramStandIn(): Promise<HttpStandIn> {
  const perChat = new Map<string, number>();
  return HttpStandIn.start((request) => {
    if (request.method === 'POST' && /^\/bot[^/]+\/setWebhook$/.test(request.path)) {
      if (typeof request.body?.url !== 'string' || !request.body.url.startsWith('https://')) return telegramError(400, 'Bad Request: bad webhook: An HTTPS URL must be provided for webhook');
      return { status: 200, body: { ok: true, result: true, description: 'Webhook was set' } };
    }
    if (request.method !== 'POST' || !/^\/bot[^/]+\/sendMessage$/.test(request.path)) {
      return telegramError(404, 'Not Found');
    }
    const chatId = request.body?.chat_id;
    const text = request.body?.text;
    if (chatId === undefined || typeof text !== 'string' || text.length === 0) return telegramError(400, 'Bad Request: message text is empty');
    const next = (perChat.get(String(chatId)) ?? 0) + 1;
    perChat.set(String(chatId), next);
    return {
      status: 200,
      body: {
        ok: true,
        result: { message_id: next, from: { id: 123456789, is_bot: true, first_name: 'Bot' }, chat: { id: chatId, type: 'private' }, date: Math.floor(Date.now() / 1000), text },
      },
    };
  });
}

/** A Bot API error reply: HTTP status = error_code. */
export function telegramError(errorCode: number, description: string, retryAfterSeconds?: number): StandInReply {
  return {
    status: errorCode,
    body: {
      ok: false,
      error_code: errorCode,
      description,
      ...(retryAfterSeconds !== undefined ? { parameters: { retry_after: retryAfterSeconds } } : {}),
    },
  };
}

/** The bot token in the request path. */
export const botTokenOf = (path: string) => path.match(/^\/bot([^/]+)\//)?.[1];
