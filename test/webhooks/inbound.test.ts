import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator, newPhone } from '../support/fixtures.js';
import { expectProblem } from '../support/problems.js';
import { newWamid, postTelegram, postWhatsApp, telegramMessage, unixSeconds, whatsappChange, whatsappNotification, whatsappText } from './providers.js';

// Nothing a customer sends is dropped: every message of every kind is stored, on the person's
// open session or on a new one in the live chat's queue.

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const messagesOf = async (sessionId: string) => (await call(t.app, 'GET', `/sessions/${sessionId}/messages`)).data.items as Array<Record<string, any>>;
const queueOf = async (liveChatId: string) => (await call(t.app, 'GET', `/sessions?liveChatId=${liveChatId}&unassigned=true&status=open`)).data.items as Array<Record<string, any>>;

/** An inbound WhatsApp message of another type, shaped like Meta's. */
function whatsappOf(waId: string, type: string, body: Record<string, unknown>) {
  return { from: waId, id: newWamid(), timestamp: String(unixSeconds(new Date())), type, [type]: body };
}

describe('a first message from an unknown WhatsApp number', () => {
  it('opens an unassigned session in the queue, for a new contact named after their WhatsApp profile', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const phone = newPhone();
    const notification = whatsappNotification([
      whatsappChange({ contacts: [{ profile: { name: 'Sheena Nowak' }, wa_id: phone.slice(1) }], messages: [whatsappText(phone.slice(1), 'Hello, is anyone there?')] }),
    ]);
    expect((await postWhatsApp(t.app, liveChatId, notification)).statusCode).toBe(200);

    const [session, ...others] = await queueOf(liveChatId);
    expect(others).toEqual([]);
    expect(session).toMatchObject({ channel: 'whatsapp', account: phone, origin: 'inbound', operatorId: null, status: 'open' });
    expect((await call(t.app, 'GET', `/contacts/${session!.contactId}`)).data).toMatchObject({ name: 'Sheena Nowak', phones: [phone] });
    expect(await messagesOf(session!.id)).toEqual([expect.objectContaining({ direction: 'inbound', kind: 'text', text: 'Hello, is anyone there?', status: 'received' })]);

    // Initiating with them names that session; the operator takes it instead.
    const initiated = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Sheena' }, account: phone, message: { text: 'Hi Sheena' } });
    expect(expectProblem(initiated, 409, 'session_already_open').existingSessionId).toBe(session!.id);
    const taken = await call(t.app, 'POST', `/sessions/${session!.id}/assign`, { operatorId });
    expect(taken.statusCode, taken.body).toBe(200);
    expect(taken.data).toMatchObject({ id: session!.id, operatorId, origin: 'inbound' });
    expect(await queueOf(liveChatId)).toEqual([]);
    // Within their 24-hour window, free text goes out on it.
    expect((await call(t.app, 'POST', `/sessions/${session!.id}/messages`, { operatorId, text: 'Hi Sheena, how can we help?' })).statusCode).toBe(202);
  });

  it('goes to the contact that already holds the number, and a redelivery is stored once', async () => {
    const { liveChatId } = await liveChatWithOperator(t.app, 'whatsapp');
    const phone = newPhone();
    const contact = await call(t.app, 'POST', '/contacts', { name: 'Known Customer', phones: [phone] });
    const message = whatsappText(phone.slice(1), 'Me again');
    const notification = whatsappNotification([whatsappChange({ contacts: [{ profile: { name: 'kc' }, wa_id: phone.slice(1) }], messages: [message] })]);
    expect((await postWhatsApp(t.app, liveChatId, notification)).data).toEqual({ messages: 1, statuses: 0 });
    expect((await postWhatsApp(t.app, liveChatId, notification)).data).toEqual({ messages: 0, statuses: 0 });
    const [session] = await queueOf(liveChatId);
    expect(session!.contactId).toBe(contact.data.id);
    expect(await messagesOf(session!.id)).toHaveLength(1);
  });
});

describe('a reply after the session was closed', () => {
  it('opens a new session in the queue for the same contact', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const phone = newPhone();
    const created = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Lee' }, account: phone, message: { template: { name: 'order_update', language: 'en_US' } } });
    expect(created.statusCode, created.body).toBe(201);
    expect((await call(t.app, 'POST', `/sessions/${created.data.id}/close`, {})).statusCode).toBe(200);

    await postWhatsApp(t.app, liveChatId, whatsappNotification([whatsappChange({ messages: [whatsappText(phone.slice(1), 'Sorry, I missed your message')] })]));
    const [queued] = await queueOf(liveChatId);
    expect(queued).toMatchObject({ contactId: created.data.contactId, account: phone, origin: 'inbound', operatorId: null });
    expect((await messagesOf(queued!.id)).map((m) => m.text)).toEqual(['Sorry, I missed your message']);
    expect((await messagesOf(created.data.id)).filter((m) => m.direction === 'inbound')).toEqual([]);
  });
});

describe('messages of every kind', () => {
  it('stores WhatsApp photos, documents, voice notes and locations with their kind and media id', async () => {
    const { liveChatId } = await liveChatWithOperator(t.app, 'whatsapp');
    const waId = newPhone().slice(1);
    const messages = [
      whatsappOf(waId, 'image', { id: 'MEDIA-IMG-1', mime_type: 'image/jpeg', sha256: 'abc', caption: 'The broken part' }),
      whatsappOf(waId, 'document', { id: 'MEDIA-DOC-1', mime_type: 'application/pdf', filename: 'invoice.pdf' }),
      whatsappOf(waId, 'audio', { id: 'MEDIA-VOICE-1', mime_type: 'audio/ogg; codecs=opus', voice: true }),
      whatsappOf(waId, 'location', { latitude: 52.52, longitude: 13.405, name: 'Shop', address: 'Main St 1' }),
      whatsappOf(waId, 'sticker', { id: 'MEDIA-STK-1', mime_type: 'image/webp' }),
      whatsappOf(waId, 'unsupported', {}),
    ];
    // In the order they were sent (the notification lists them by wamid).
    for (const message of messages) await postWhatsApp(t.app, liveChatId, whatsappNotification([whatsappChange({ messages: [message] })]));
    const [session] = await queueOf(liveChatId);
    expect((await messagesOf(session!.id)).map((m) => [m.kind, m.text, m.media])).toEqual([
      ['image', 'The broken part', { providerMediaId: 'MEDIA-IMG-1', mimeType: 'image/jpeg', fileName: null, caption: 'The broken part' }],
      ['document', null, { providerMediaId: 'MEDIA-DOC-1', mimeType: 'application/pdf', fileName: 'invoice.pdf', caption: null }],
      ['audio', null, { providerMediaId: 'MEDIA-VOICE-1', mimeType: 'audio/ogg; codecs=opus', fileName: null, caption: null }],
      ['location', 'Shop, Main St 1 (52.52, 13.405)', null],
      ['sticker', null, { providerMediaId: 'MEDIA-STK-1', mimeType: 'image/webp', fileName: null, caption: null }],
      ['other', null, null],
    ]);
  });

  it('stores Telegram photos (the largest size), voice notes and documents', async () => {
    const { liveChatId } = await liveChatWithOperator(t.app, 'telegram');
    const person = { id: 5_550_777_001, username: 'kinds_person' };
    const updates = [
      telegramMessage(person, { photo: [{ file_id: 'small', width: 90, height: 90 }, { file_id: 'large', width: 1280, height: 960 }], caption: 'Damaged box' } as never),
      telegramMessage(person, { voice: { file_id: 'voice-1', mime_type: 'audio/ogg', duration: 3 } } as never),
      telegramMessage(person, { document: { file_id: 'doc-1', file_name: 'receipt.pdf', mime_type: 'application/pdf' } } as never),
    ];
    for (const update of updates) expect((await postTelegram(t.app, liveChatId, update)).statusCode).toBe(200);
    const [session] = await queueOf(liveChatId);
    expect((await messagesOf(session!.id)).map((m) => [m.kind, m.text, m.media?.providerMediaId ?? null])).toEqual([
      ['image', 'Damaged box', 'large'],
      ['audio', null, 'voice-1'],
      ['document', null, 'doc-1'],
    ]);
  });
});

describe('Telegram people with neither a username nor a shared phone', () => {
  it('get sessions addressed tg:<user id>, which POST /sessions also takes on Telegram only', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'telegram');
    const person = { id: 5_550_777_002 };
    await postTelegram(t.app, liveChatId, telegramMessage(person, { text: 'hi' }));
    const [queued] = await queueOf(liveChatId);
    expect(queued).toMatchObject({ account: `tg:${person.id}`, origin: 'inbound' });
    expect((await call(t.app, 'POST', `/sessions/${queued!.id}/close`, {})).statusCode).toBe(200);

    const initiated = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Anon' }, account: `tg:${person.id}`, message: { text: 'Hello again' } });
    expect(initiated.statusCode, initiated.body).toBe(201);
    expect(initiated.data).toMatchObject({ account: `tg:${person.id}`, origin: 'operator', operatorId });

    const stranger = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'X' }, account: 'tg:999000111' });
    expectProblem(stranger, 422, 'telegram_no_prior_contact');
    const whatsapp = await liveChatWithOperator(t.app, 'whatsapp');
    const onWhatsApp = { liveChatId: whatsapp.liveChatId, operatorId: whatsapp.operatorId, contact: { name: 'X' }, account: `tg:${person.id}` };
    expectProblem(await call(t.app, 'POST', '/sessions', onWhatsApp), 422, 'account_channel_mismatch');
    const malformed = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'X' }, account: 'tg:abc' });
    expectProblem(malformed, 400, 'validation_failed');
  });
});

describe('POST /sessions/{id}/assign', () => {
  it('refuses an operator not assigned to the live chat, a closed session and an unknown one', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    await postWhatsApp(t.app, liveChatId, whatsappNotification([whatsappChange({ messages: [whatsappText(newPhone().slice(1), 'Hi')] })]));
    const [queued] = await queueOf(liveChatId);
    expectProblem(await call(t.app, 'POST', `/sessions/${queued!.id}/assign`, { operatorId: 'op-elsewhere' }), 403, 'operator_not_assigned');
    expect((await call(t.app, 'POST', `/sessions/${queued!.id}/close`, {})).statusCode).toBe(200);
    expectProblem(await call(t.app, 'POST', `/sessions/${queued!.id}/assign`, { operatorId }), 409, 'session_not_open');
    expectProblem(await call(t.app, 'POST', `/sessions/00000000-0000-4000-8000-000000000000/assign`, { operatorId }), 404, 'session_not_found');
  });

  it('hands an assigned session over to another operator', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'email');
    const created = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Di', emails: ['di@handover.example'] } });
    const other = 'op-second-shift';
    expect((await call(t.app, 'PUT', `/live-chats/${liveChatId}/operators/${other}`)).statusCode).toBe(204);
    const handed = await call(t.app, 'POST', `/sessions/${created.data.id}/assign`, { operatorId: other });
    expect(handed.data).toMatchObject({ operatorId: other, origin: 'operator' });
    const assigned = await call(t.app, 'GET', `/sessions?liveChatId=${liveChatId}&unassigned=false&origin=operator`);
    expect(assigned.data.items.map((s: { id: string }) => s.id)).toEqual([created.data.id]);
  });
});

describe('subjects', () => {
  it('refuses a subject on a messenger', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'telegram');
    const response = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'X' }, account: '@someone_here', message: { text: 'Hi', subject: 'Hello' } });
    expectProblem(response, 422, 'subject_not_supported');
  });
});
