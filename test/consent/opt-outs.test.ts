import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator, newPhone, personWrote } from '../support/fixtures.js';
import { expectFieldError, expectProblem } from '../support/problems.js';

const TEMPLATE = { template: { name: 'order_update', language: 'en_US' } };

describe('opt-outs through the API', () => {
  let t: TestApp;
  let chat: { liveChatId: string; operatorId: string };
  let sessionsKey: string;

  beforeAll(async () => {
    t = await createTestApp();
    chat = await liveChatWithOperator(t.app, 'whatsapp');
    sessionsKey = (await call(t.app, 'POST', '/api-keys', { name: 'crm', scopes: ['sessions'] })).data.key;
  });
  afterAll(() => t.close());

  const optOuts = (query = '') => call(t.app, 'GET', `/live-chats/${chat.liveChatId}/opt-outs${query}`, undefined, { key: sessionsKey });
  const initiate = (phone: string, message: object | undefined = TEMPLATE) =>
    call(t.app, 'POST', '/sessions', { liveChatId: chat.liveChatId, operatorId: chat.operatorId, contact: { name: 'Ann', phones: [phone] }, ...(message ? { message } : {}) });

  it('records an opt-out under the normalised account, lists it, and lifts it', async () => {
    const phone = newPhone();
    const put = await call(t.app, 'PUT', `/live-chats/${chat.liveChatId}/opt-outs/${encodeURIComponent(`${phone.slice(0, 3)} ${phone.slice(3)}`)}`, { reason: 'Asked by phone' }, { key: sessionsKey });
    expect(put.statusCode, put.body).toBe(204);
    // Again: idempotent.
    expect((await call(t.app, 'PUT', `/live-chats/${chat.liveChatId}/opt-outs/${encodeURIComponent(phone)}`, undefined, { key: sessionsKey })).statusCode).toBe(204);

    const listed = await optOuts(`?account=${encodeURIComponent(phone)}`);
    expect(listed.data).toEqual({ items: [{ account: phone, source: 'api', reason: 'Asked by phone', createdAt: expect.any(String) }], nextCursor: null });

    // Lifting needs an admin key: the person's consent must be on record.
    expectProblem(await call(t.app, 'DELETE', `/live-chats/${chat.liveChatId}/opt-outs/${encodeURIComponent(phone)}`, undefined, { key: sessionsKey }), 403, 'forbidden');
    expect((await call(t.app, 'DELETE', `/live-chats/${chat.liveChatId}/opt-outs/${encodeURIComponent(phone)}`)).statusCode).toBe(204);
    expect((await optOuts(`?account=${encodeURIComponent(phone)}`)).data.items).toEqual([]);
    expect((await call(t.app, 'DELETE', `/live-chats/${chat.liveChatId}/opt-outs/${encodeURIComponent(phone)}`)).statusCode).toBe(204);
  });

  it('lists newest first, a page at a time', async () => {
    const phones = [newPhone(), newPhone(), newPhone()];
    for (const phone of phones) await call(t.app, 'PUT', `/live-chats/${chat.liveChatId}/opt-outs/${encodeURIComponent(phone)}`);
    const first = await optOuts('?limit=2');
    expect(first.data.items.slice(0, 2).map((i: { account: string }) => i.account)).toEqual([phones[2], phones[1]]);
    const next = await optOuts(`?limit=2&cursor=${first.data.nextCursor}`);
    expect(next.data.items[0].account).toBe(phones[0]);
    expectFieldError(await optOuts('?cursor=bm9wZQ'), '/cursor', 'invalid_cursor');
  });

  it('refuses a malformed account, one of another channel, and an unknown live chat', async () => {
    expectFieldError(await call(t.app, 'PUT', `/live-chats/${chat.liveChatId}/opt-outs/015123456789`), '/account', 'invalid_phone_number');
    expectProblem(await call(t.app, 'PUT', `/live-chats/${chat.liveChatId}/opt-outs/${encodeURIComponent('@ann_b_c')}`), 422, 'account_channel_mismatch');
    expectProblem(await call(t.app, 'PUT', `/live-chats/${chat.liveChatId}/opt-outs/tg%3A12345`), 422, 'account_channel_mismatch');
    expectProblem(await call(t.app, 'PUT', `/live-chats/${crypto.randomUUID()}/opt-outs/${encodeURIComponent(newPhone())}`), 404, 'live_chat_not_found');
  });

  it('refuses an opted-out person on POST /sessions, reopen and messages, and lets them in again once lifted', async () => {
    const phone = newPhone();
    await personWrote(t.database.handle.db, chat.liveChatId, { externalUserId: phone.slice(1), phone }, new Date());
    const created = await initiate(phone);
    expect(created.statusCode, created.body).toBe(201);
    const sessionId = created.data.id as string;
    await call(t.app, 'PUT', `/live-chats/${chat.liveChatId}/opt-outs/${encodeURIComponent(phone)}`);

    const message = expectProblem(await call(t.app, 'POST', `/sessions/${sessionId}/messages`, { operatorId: chat.operatorId, text: 'Still there?' }), 422, 'contact_opted_out');
    expect(message.detail).toBe(`${phone} opted out of this live chat: nothing is initiated or sent to them here.`);
    await call(t.app, 'POST', `/sessions/${sessionId}/close`, {});
    expectProblem(await call(t.app, 'POST', `/sessions/${sessionId}/reopen`, { operatorId: chat.operatorId }), 422, 'contact_opted_out');
    expectProblem(await initiate(phone), 422, 'contact_opted_out');
    // Without a message too: nothing is initiated.
    expectProblem(await initiate(phone, undefined), 422, 'contact_opted_out');
    // The refused creation kept nothing, not even its inline contact.
    const sessions = await call(t.app, 'GET', `/sessions?liveChatId=${chat.liveChatId}&account=${encodeURIComponent(phone)}`);
    expect(sessions.data.items.map((s: { id: string }) => s.id)).toEqual([sessionId]);

    // Check 7 comes before the WhatsApp window (9) and an open session (10).
    expectProblem(await call(t.app, 'POST', '/sessions', { liveChatId: chat.liveChatId, operatorId: chat.operatorId, contact: { name: 'Ann' }, account: phone, message: { text: 'Hi' } }), 422, 'contact_opted_out');

    await call(t.app, 'DELETE', `/live-chats/${chat.liveChatId}/opt-outs/${encodeURIComponent(phone)}`);
    expect((await call(t.app, 'POST', `/sessions/${sessionId}/reopen`, { operatorId: chat.operatorId, message: TEMPLATE })).statusCode).toBe(200);
  });

  it('reaches a WhatsApp person under any form of their number, and refuses one no plan has', async () => {
    // Written with spaces and punctuation, it is the same person's E.164 number.
    expect((await call(t.app, 'PUT', `/live-chats/${chat.liveChatId}/opt-outs/${encodeURIComponent('+55 (11) 98765-4321')}`)).statusCode).toBe(204);
    expect((await optOuts(`?account=${encodeURIComponent('+5511987654321')}`)).data.items).toHaveLength(1);
    expectProblem(await initiate('+5511987654321'), 422, 'contact_opted_out');
    // The old eight-digit form of a Brazilian mobile is no number today (WhatsApp's own
    // webhooks still send it, and are matched: see the webhook tests).
    expectFieldError(await call(t.app, 'PUT', `/live-chats/${chat.liveChatId}/opt-outs/${encodeURIComponent('+55 11 8765 4321')}`), '/account', 'invalid_phone_number');
  });
});
