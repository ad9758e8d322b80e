import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { dismissQueue, liveChatWithOperator, newPhone } from '../support/fixtures.js';
import { expectProblem } from '../support/problems.js';
import { postTelegram, postWhatsApp, telegramMessage, telegramSharedContact, whatsappChange, whatsappNotification, whatsappText } from './providers.js';

const HOUR = 3_600_000;

describe('Telegram: a bot reaches only people who wrote to it', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('refuses an unknown person; once they wrote, initiating points to the session their message opened, which the operator takes', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'telegram');
    const phone = newPhone();
    const person = { id: 5_550_001_001, username: 'asha_k' };
    const initiate = (account: string) =>
      call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Asha', phones: [phone] }, account, message: { text: 'Hello Asha!' } });

    expectProblem(await initiate(phone), 422, 'telegram_no_prior_contact');

    // Writing to the bot makes the person known by @username — and opens a session in the
    // queue; their phone is known only once shared.
    expect((await postTelegram(t.app, liveChatId, telegramMessage(person, { text: '/start' }))).statusCode).toBe(200);
    expectProblem(await initiate(phone), 422, 'telegram_no_prior_contact');
    expect((await postTelegram(t.app, liveChatId, telegramSharedContact(person, phone.slice(1)))).statusCode).toBe(200);

    // By phone or by @username it is the same person, whose own session is open: the operator takes it.
    const byPhone = expectProblem(await initiate(phone), 409, 'session_already_open');
    expect(expectProblem(await initiate('@Asha_K'), 409, 'session_already_open').existingSessionId).toBe(byPhone.existingSessionId);
    const taken = await call(t.app, 'POST', `/sessions/${byPhone.existingSessionId}/assign`, { operatorId });
    expect(taken.statusCode, taken.body).toBe(200);
    expect(taken.data).toMatchObject({ channel: 'telegram', account: '@asha_k', origin: 'inbound', operatorId, status: 'open' });
    expect((await call(t.app, 'POST', `/sessions/${taken.data.id}/messages`, { operatorId, text: 'Hello Asha!' })).statusCode).toBe(202);

    // What they write now lands on the session too.
    await postTelegram(t.app, liveChatId, telegramMessage(person, { text: 'Hi! Yes, about my order…' }));
    const messages = await call(t.app, 'GET', `/sessions/${taken.data.id}/messages`);
    expect(messages.data.items.map((m: { direction: string; kind: string; text: string }) => [m.direction, m.kind, m.text])).toEqual([
      ['inbound', 'text', '/start'],
      ['inbound', 'contacts', `Ann ${phone.slice(1)}`],
      ['outbound', 'text', 'Hello Asha!'],
      ['inbound', 'text', 'Hi! Yes, about my order…'],
    ]);
  });

  it('opens a session by @username once the person wrote', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'telegram');
    const body = { liveChatId, operatorId, contact: { name: 'Ben' }, account: '@ben_writes', message: { text: 'Hi Ben' } };
    expectProblem(await call(t.app, 'POST', '/sessions', body), 422, 'telegram_no_prior_contact');
    await postTelegram(t.app, liveChatId, telegramMessage({ id: 5_550_002_002, username: 'Ben_Writes' }, { text: 'hello?' }));
    await dismissQueue(t.app, liveChatId);
    const session = await call(t.app, 'POST', '/sessions', body);
    expect(session.statusCode, session.body).toBe(201);
  });

  it('does not let one live chat’s contacts open sessions on another bot', async () => {
    const first = await liveChatWithOperator(t.app, 'telegram');
    const second = await liveChatWithOperator(t.app, 'telegram');
    await postTelegram(t.app, first.liveChatId, telegramMessage({ id: 5_550_003_003, username: 'cara_one' }, { text: 'hi' }));
    const refused = await call(t.app, 'POST', '/sessions', { liveChatId: second.liveChatId, operatorId: second.operatorId, contact: { name: 'Cara' }, account: '@cara_one' });
    expectProblem(refused, 422, 'telegram_no_prior_contact');
  });
});

describe('WhatsApp: free text only within 24 hours of the person’s last message', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const personWrites = (liveChatId: string, waId: string, text: string, at: Date) =>
    postWhatsApp(t.app, liveChatId, whatsappNotification([whatsappChange({ messages: [whatsappText(waId, text, { at })] })]));

  it('opens the window with each inbound message and closes it 24 hours after the last one', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const phone = newPhone();
    const waId = phone.slice(1);
    const body = { liveChatId, operatorId, contact: { name: 'Sheena', phones: [phone] }, message: { text: 'Hi Sheena, following up on your order.' } };
    const sendText = (sessionId: string) => call(t.app, 'POST', `/sessions/${sessionId}/messages`, { operatorId, text: 'Anything else?' });

    expectProblem(await call(t.app, 'POST', '/sessions', body), 422, 'whatsapp_template_required');

    // The person wrote two hours ago: the window is open for another 22 hours.
    const firstWrote = new Date(t.clock.now().getTime() - 2 * HOUR);
    expect((await personWrites(liveChatId, waId, 'Hello', firstWrote)).statusCode).toBe(200);
    await dismissQueue(t.app, liveChatId);
    const session = await call(t.app, 'POST', '/sessions', body);
    expect(session.statusCode, session.body).toBe(201);
    const sessionId = session.data.id as string;

    t.clock.advance(22 * HOUR - 1_000);
    expect((await sendText(sessionId)).statusCode).toBe(202);
    t.clock.advance(2_000);
    expectProblem(await sendText(sessionId), 422, 'whatsapp_template_required');
    const template = await call(t.app, 'POST', `/sessions/${sessionId}/messages`, { operatorId, template: { name: 'order_update', language: 'en_US' } });
    expect(template.statusCode, template.body).toBe(202);

    // They answer: a new 24-hour window from their message, which is stored on the session.
    expect((await personWrites(liveChatId, waId, 'Still waiting', t.clock.now())).statusCode).toBe(200);
    expect((await sendText(sessionId)).statusCode).toBe(202);
    const inbound = (await call(t.app, 'GET', `/sessions/${sessionId}/messages`)).data.items.filter((m: { direction: string }) => m.direction === 'inbound');
    expect(inbound.map((m: { text: string }) => m.text)).toEqual(['Still waiting']);

    t.clock.advance(24 * HOUR + 1_000);
    expectProblem(await sendText(sessionId), 422, 'whatsapp_template_required');
  });

  it('knows a Brazilian person whose WhatsApp id lacks the ninth digit by today’s number', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const eight = `8${String(Date.now() % 10_000_000).padStart(7, '0')}`;
    const phone = `+5511${9}${eight}`;
    const waId = `5511${eight}`;
    const template = { name: 'order_update', language: 'pt_BR' };
    const session = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Bruna', phones: [phone] }, message: { template } });
    expect(session.statusCode, session.body).toBe(201);

    // She answers; WhatsApp names her by her old id. The reply lands on the session and opens her window.
    expect((await personWrites(liveChatId, waId, 'Oi! Pode falar.', t.clock.now())).statusCode).toBe(200);
    const messages = (await call(t.app, 'GET', `/sessions/${session.data.id}/messages`)).data.items as Array<{ direction: string; text: string }>;
    expect(messages.filter((m) => m.direction === 'inbound').map((m) => m.text)).toEqual(['Oi! Pode falar.']);
    const text = await call(t.app, 'POST', `/sessions/${session.data.id}/messages`, { operatorId, text: 'Seu pedido saiu hoje.' });
    expect(text.statusCode, text.body).toBe(202);

    // Typed in its old form the number is no longer one of Brazil's: refused, not a second person.
    const again = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Bruna' }, account: `+5511${eight}`, message: { template } });
    expectProblem(again, 400, 'validation_failed');
  });

  it('opens the window for a Mexican person whose WhatsApp id still has the 1 after 52', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const ten = `55${String(Date.now() % 100_000_000).padStart(8, '0')}`;
    expect((await personWrites(liveChatId, `521${ten}`, 'Hola', t.clock.now())).statusCode).toBe(200);
    await dismissQueue(t.app, liveChatId);
    const session = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Memo', phones: [`+52${ten}`] }, message: { text: 'Hola Memo' } });
    expect(session.statusCode, session.body).toBe(201);
  });

  it('does not stretch the window with a timestamp from the future', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const phone = newPhone();
    await personWrites(liveChatId, phone.slice(1), 'Hello from a skewed clock', new Date(t.clock.now().getTime() + 12 * HOUR));
    t.clock.advance(24 * HOUR + 1_000);
    const body = { liveChatId, operatorId, contact: { name: 'Sam', phones: [phone] }, message: { text: 'Hi Sam' } };
    expectProblem(await call(t.app, 'POST', '/sessions', body), 422, 'whatsapp_template_required');
  });
});
