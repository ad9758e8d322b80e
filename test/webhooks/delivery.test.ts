import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator, newPhone, dismissQueue } from '../support/fixtures.js';
import { type HttpStandIn, waitUntil } from '../support/http-stand-in.js';
import { startTelegramStandIn } from '../support/telegram-stand-in.js';
import { startWhatsAppStandIn } from '../support/whatsapp-stand-in.js';
import { postTelegram, postWhatsApp, telegramMessage, telegramSharedContact, whatsappChange, whatsappNotification, whatsappStatus, whatsappText } from './providers.js';

// Webhooks and the dispatcher together, over real sockets to the provider stand-ins.
describe('webhooks with delivery', () => {
  let t: TestApp;
  let telegram: HttpStandIn;
  let whatsapp: HttpStandIn;

  beforeAll(async () => {
    [telegram, whatsapp] = await Promise.all([startTelegramStandIn(), startWhatsAppStandIn()]);
    t = await createTestApp({
      config: {
        dispatcherEnabled: true,
        telegramApiBaseUrl: telegram.url,
        whatsappApiBaseUrl: whatsapp.url,
        delivery: { maxAttempts: 3, retryBaseMs: 20, retryMaxMs: 100, providerTimeoutMs: 1_000 },
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await Promise.all([telegram.close(), whatsapp.close()]);
  });
  beforeEach(() => {
    telegram.reset();
    whatsapp.reset();
  });

  async function settledFirstMessage(sessionId: string) {
    return waitUntil(
      async () => {
        const items = (await call(t.app, 'GET', `/sessions/${sessionId}/messages`)).data.items as Array<Record<string, any>>;
        const first = items.find((m) => m.direction === 'outbound');
        return first && first.status !== 'queued' ? first : undefined;
      },
      { what: 'the first message to leave the outbox' },
    );
  }

  it('sends the first message to the chat of the Telegram person who wrote and shared their phone', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'telegram');
    const person = { id: 5_550_004_004, username: 'dana_d' };
    const phone = newPhone();
    await postTelegram(t.app, liveChatId, telegramMessage(person, { text: '/start' }));
    await postTelegram(t.app, liveChatId, telegramSharedContact(person, phone.slice(1)));
    await dismissQueue(t.app, liveChatId);

    const session = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Dana', phones: [phone] }, message: { text: 'Hello Dana!' } });
    expect(session.statusCode, session.body).toBe(201);

    const message = await settledFirstMessage(session.data.id);
    expect(message).toMatchObject({ status: 'sent', providerMessageId: `${person.id}:1` });
    expect(telegram.requests).toHaveLength(1);
    expect(telegram.requests[0]!.path).toMatch(/^\/bot[^/]+\/sendMessage$/);
    expect(telegram.requests[0]!.body).toEqual({ chat_id: person.id, text: 'Hello Dana!' });
  });

  it('moves a delivered WhatsApp message by the wamid the provider gave it', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const phone = newPhone();
    await postWhatsApp(t.app, liveChatId, whatsappNotification([whatsappChange({ messages: [whatsappText(phone.slice(1), 'Hi, any news?')] })]));
    await dismissQueue(t.app, liveChatId);

    const session = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Sheena', phones: [phone] }, message: { text: 'Yes: it shipped today.' } });
    expect(session.statusCode, session.body).toBe(201);
    const sent = await settledFirstMessage(session.data.id);
    expect(sent.status).toBe('sent');
    expect(whatsapp.requests[0]!.body).toMatchObject({ to: phone.slice(1), type: 'text', text: { body: 'Yes: it shipped today.' } });

    const statuses = [whatsappStatus(sent.providerMessageId, 'read'), whatsappStatus(sent.providerMessageId, 'delivered')];
    const response = await postWhatsApp(t.app, liveChatId, whatsappNotification([whatsappChange({ statuses })]));
    expect(response.statusCode, response.body).toBe(200);
    const after = (await call(t.app, 'GET', `/sessions/${session.data.id}/messages`)).data.items.find((m: { id: string }) => m.id === sent.id);
    expect(after.status).toBe('read');
  });
});
