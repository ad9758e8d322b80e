import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { channels } from '../support/fixtures.js';
import type { HttpStandIn } from '../support/http-stand-in.js';
import { expectProblem } from '../support/problems.js';
import { botTokenOf, startTelegramStandIn, telegramError } from '../support/telegram-stand-in.js';

describe('POST /live-chats/{id}/telegram-webhook', () => {
  let t: TestApp;
  let telegram: HttpStandIn;
  beforeAll(async () => {
    telegram = await startTelegramStandIn();
    t = await createTestApp({ config: { telegramApiBaseUrl: telegram.url, publicBaseUrl: 'https://sessions.example.com' } });
  });
  afterAll(async () => {
    await t.close();
    await telegram.close();
  });
  beforeEach(() => telegram.reset());

  async function telegramChat(overrides: Record<string, unknown> = {}): Promise<string> {
    const created = await call(t.app, 'POST', '/live-chats', { name: 'Bot', channel: channels.telegram(overrides) });
    expect(created.statusCode, created.body).toBe(201);
    return created.data.id;
  }

  it('calls setWebhook with the public URL, the live chat’s secret and the update kinds it reads', async () => {
    const id = await telegramChat();
    const registered = await call(t.app, 'POST', `/live-chats/${id}/telegram-webhook`);
    expect(registered.statusCode, registered.body).toBe(200);
    expect(registered.data).toEqual({ url: `https://sessions.example.com/webhooks/telegram/${id}` });
    expect(telegram.requests).toHaveLength(1);
    const [request] = telegram.requests;
    expect(request!.path).toMatch(/\/setWebhook$/);
    expect(botTokenOf(request!.path)).toBe(channels.telegram().botToken);
    expect(request!.body).toEqual({
      url: `https://sessions.example.com/webhooks/telegram/${id}`,
      secret_token: channels.telegram().webhookSecret,
      allowed_updates: ['message', 'edited_message', 'my_chat_member'],
    });
  });

  it('registers a generated secret that the webhook then accepts', async () => {
    const id = await telegramChat({ webhookSecret: undefined });
    expect((await call(t.app, 'POST', `/live-chats/${id}/telegram-webhook`)).statusCode).toBe(200);
    const secret = telegram.requests[0]!.body.secret_token as string;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{16,256}$/);
    const update = { update_id: 1, message: { message_id: 1, date: 1_757_477_109, chat: { id: 7, type: 'private' }, from: { id: 7, is_bot: false }, text: '/start' } };
    const delivered = await t.app.inject({ method: 'POST', url: `/webhooks/telegram/${id}`, headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret }, payload: update });
    expect(delivered.statusCode, delivered.body).toBe(200);
  });

  it('answers 502 provider_error with Telegram’s description when Telegram refuses', async () => {
    const id = await telegramChat();
    telegram.replyNext(telegramError(401, 'Unauthorized'));
    const refused = expectProblem(await call(t.app, 'POST', `/live-chats/${id}/telegram-webhook`), 502, 'provider_error');
    expect(refused.detail).toContain('Unauthorized');
    expect(JSON.stringify(refused)).not.toContain(channels.telegram().botToken);
  });

  it('answers 404 for an unknown or non-Telegram live chat, and asks for admin', async () => {
    expectProblem(await call(t.app, 'POST', `/live-chats/${randomUUID()}/telegram-webhook`), 404, 'live_chat_not_found');
    const email = await call(t.app, 'POST', '/live-chats', { name: 'Inbox', channel: channels.email() });
    expectProblem(await call(t.app, 'POST', `/live-chats/${email.data.id}/telegram-webhook`), 404, 'live_chat_not_found');
    const key = (await call(t.app, 'POST', '/api-keys', { name: 'crm', scopes: ['sessions'] })).data.key;
    expectProblem(await call(t.app, 'POST', `/live-chats/${await telegramChat()}/telegram-webhook`, undefined, { key }), 403, 'forbidden');
    expect(telegram.requests).toEqual([]);
  });
});

describe('POST /live-chats/{id}/telegram-webhook without PUBLIC_BASE_URL', () => {
  it('answers 422 public_base_url_required and calls nobody', async () => {
    const telegram = await startTelegramStandIn();
    const t = await createTestApp({ config: { telegramApiBaseUrl: telegram.url } });
    try {
      const created = await call(t.app, 'POST', '/live-chats', { name: 'Bot', channel: channels.telegram() });
      expectProblem(await call(t.app, 'POST', `/live-chats/${created.data.id}/telegram-webhook`), 422, 'public_base_url_required');
      expect(telegram.requests).toEqual([]);
    } finally {
      await t.close();
      await telegram.close();
    }
  });
});
