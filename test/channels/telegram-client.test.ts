import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TelegramClient } from '../../src/channels/telegram-client.js';
import { type HttpStandIn, closedPortUrl } from '../support/http-stand-in.js';
import { startTelegramStandIn, telegramError } from '../support/telegram-stand-in.js';
import { liveChatWith, textMessage } from './live-chat.js';

const channel = { type: 'telegram', botToken: '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw' } as const;

describe('Telegram client', () => {
  let standIn: HttpStandIn;
  let client: TelegramClient;
  beforeAll(async () => {
    standIn = await startTelegramStandIn();
    client = new TelegramClient({ baseUrl: standIn.url, timeoutMs: 300 });
  });
  afterAll(() => standIn.close());
  beforeEach(() => standIn.reset());

  it('posts sendMessage to /bot{token} with a numeric chat_id and the text', async () => {
    const result = await client.send(liveChatWith(channel), textMessage('11111', 'Hello Ann'));

    expect(standIn.requests).toHaveLength(1);
    const [request] = standIn.requests;
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe('/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.body).toEqual({ chat_id: 11111, text: 'Hello Ann' });
    // Telegram numbers messages per chat: the id names the chat too.
    expect(result).toEqual({ outcome: 'sent', providerMessageId: '11111:1', providerRecipient: '11111' });
  });

  it.each([
    [403, 'Forbidden: bot was blocked by the user'],
    [403, "Forbidden: bot can't initiate conversation with a user"],
    [400, 'Bad Request: chat not found'],
    [401, 'Unauthorized'],
  ])('classifies %i %s as permanent', async (status, description) => {
    standIn.replyNext(telegramError(status, description));
    const result = await client.send(liveChatWith(channel), textMessage('11111', 'Hi'));
    const blocked = description.includes('blocked by the user') ? { recipientBlocked: true } : {};
    expect(result).toEqual({ outcome: 'permanent', code: `telegram_${status}`, message: description, ...blocked });
  });

  it('honours retry_after on 429', async () => {
    standIn.replyNext(telegramError(429, 'Too Many Requests: retry after 3', 3));
    const result = await client.send(liveChatWith(channel), textMessage('11111', 'Hi'));
    expect(result).toEqual({ outcome: 'transient', code: 'telegram_429', message: 'Too Many Requests: retry after 3', retryAfterMs: 3000 });
  });

  it('classifies 5xx as transient', async () => {
    standIn.replyNext(telegramError(502, 'Bad Gateway'));
    const result = await client.send(liveChatWith(channel), textMessage('11111', 'Hi'));
    expect(result).toMatchObject({ outcome: 'transient', code: 'telegram_502' });
  });

  it('turns a provider that never answers into a transient timeout', async () => {
    standIn.replyNext({ hang: true });
    const result = await client.send(liveChatWith(channel), textMessage('11111', 'Hi'));
    expect(result).toMatchObject({ outcome: 'transient', code: 'timeout' });
  });

  it('turns a refused connection into a transient network error without naming the bot token', async () => {
    const refused = new TelegramClient({ baseUrl: await closedPortUrl(), timeoutMs: 1_000 });
    const result = await refused.send(liveChatWith(channel), textMessage('11111', 'Hi'));
    expect(result).toMatchObject({ outcome: 'transient', code: 'network_error' });
    expect(JSON.stringify(result)).not.toContain(channel.botToken);
  });
});
