import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChannelContactByExternalId } from '../../src/channel-contacts/repository.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator, newPhone } from '../support/fixtures.js';
import {
  WHATSAPP_VERIFY_TOKEN,
  newWamid,
  postWhatsApp,
  unixSeconds,
  whatsappChange,
  whatsappNotification,
  whatsappStatus,
  whatsappText,
} from './providers.js';

/** A wa_id (the digits of an E.164 number) no test has used yet. */
const newWaId = () => newPhone().slice(1);

describe('GET /webhooks/whatsapp/{liveChatId}: verification handshake', () => {
  let t: TestApp;
  let liveChatId: string;
  beforeAll(async () => {
    t = await createTestApp();
    ({ liveChatId } = await liveChatWithOperator(t.app, 'whatsapp'));
  });
  afterAll(() => t.close());

  const verify = (id: string, query: Record<string, string>) =>
    t.app.inject({ method: 'GET', url: `/webhooks/whatsapp/${id}`, query });

  it('echoes the challenge as plain text when the verify token matches', async () => {
    const response = await verify(liveChatId, { 'hub.mode': 'subscribe', 'hub.verify_token': WHATSAPP_VERIFY_TOKEN, 'hub.challenge': '1158201444' });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(response.body).toBe('1158201444');
  });

  it('answers 403 for a wrong or missing token or another mode', async () => {
    const queries: Record<string, string>[] = [
      { 'hub.mode': 'subscribe', 'hub.verify_token': 'wrong-token', 'hub.challenge': '1' },
      { 'hub.mode': 'subscribe', 'hub.challenge': '1' },
      { 'hub.mode': 'unsubscribe', 'hub.verify_token': WHATSAPP_VERIFY_TOKEN, 'hub.challenge': '1' },
      {},
    ];
    for (const query of queries) {
      const response = await verify(liveChatId, query);
      expect(response.statusCode, JSON.stringify(query)).toBe(403);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(response.body)).toMatchObject({ code: 'verification_failed' });
    }
  });

  it('answers 400 when the challenge is missing', async () => {
    const response = await verify(liveChatId, { 'hub.mode': 'subscribe', 'hub.verify_token': WHATSAPP_VERIFY_TOKEN });
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body)).toMatchObject({ code: 'validation_failed', errors: [{ field: '/hub.challenge', code: 'required' }] });
  });

  it('answers 404 for an unknown live chat or a live chat on another channel', async () => {
    const query = { 'hub.mode': 'subscribe', 'hub.verify_token': WHATSAPP_VERIFY_TOKEN, 'hub.challenge': '1' };
    expect((await verify('3f1c2d9e-5b7a-4c1e-9f0a-123456789abc', query)).statusCode).toBe(404);
    const telegram = await liveChatWithOperator(t.app, 'telegram');
    expect((await verify(telegram.liveChatId, query)).statusCode).toBe(404);
  });
});

describe('POST /webhooks/whatsapp/{liveChatId}: messages and statuses', () => {
  let t: TestApp;
  let liveChatId: string;
  let operatorId: string;
  beforeAll(async () => {
    t = await createTestApp();
    ({ liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp'));
  });
  afterAll(() => t.close());

  const db = () => t.database.handle.db;
  const contact = (waId: string) => findChannelContactByExternalId(db(), liveChatId, waId);
  const ago = (ms: number) => new Date(t.clock.now().getTime() - ms);
  const secondsOf = (date: Date) => unixSeconds(date) * 1000;
  const notify = (...changes: ReturnType<typeof whatsappChange>[]) => postWhatsApp(t.app, liveChatId, whatsappNotification(changes));

  /** An open session with the person whose first message (a template) the provider accepted as `wamid`. */
  async function sessionWithSentTemplate(waId: string, wamid: string) {
    const session = await call(t.app, 'POST', '/sessions', {
      liveChatId,
      operatorId,
      contact: { name: 'Sheena', phones: [`+${waId}`] },
      message: { template: { name: 'order_update', language: 'en_US', parameters: ['Sheena'] } },
    });
    expect(session.statusCode, session.body).toBe(201);
    // What the dispatcher records after the provider accepted the message.
    await db().updateTable('messages').set({ status: 'sent', provider_message_id: wamid }).where('session_id', '=', session.data.id).execute();
    return session.data.id as string;
  }

  async function messagesOf(sessionId: string) {
    const response = await call(t.app, 'GET', `/sessions/${sessionId}/messages`);
    expect(response.statusCode).toBe(200);
    return response.data.items as Array<Record<string, any>>;
  }

  const outboundOf = async (sessionId: string) => (await messagesOf(sessionId)).find((m) => m.direction === 'outbound')!;

  it('records the sender by wa_id, with their phone and the time of their message', async () => {
    const waId = newWaId();
    const sentAt = ago(10 * 60_000);
    const response = await notify(whatsappChange({ contacts: [{ profile: { name: 'Sheena' }, wa_id: waId }], messages: [whatsappText(waId, 'Hello', { at: sentAt })] }));
    expect(response.statusCode, response.body).toBe(200);
    expect(response.data).toEqual({ messages: 1, statuses: 0 });
    const row = await contact(waId);
    expect(row).toMatchObject({ external_user_id: waId, phone: `+${waId}`, username: null });
    expect(row!.last_inbound_at.getTime()).toBe(secondsOf(sentAt));
  });

  it('moves the last inbound time forward only', async () => {
    const waId = newWaId();
    const later = ago(60_000);
    await notify(whatsappChange({ messages: [whatsappText(waId, 'second', { at: later })] }));
    await notify(whatsappChange({ messages: [whatsappText(waId, 'first, delivered late', { at: ago(3_600_000) })] }));
    expect((await contact(waId))!.last_inbound_at.getTime()).toBe(secondsOf(later));
  });

  it('never dates a message later than the server clock', async () => {
    const waId = newWaId();
    await notify(whatsappChange({ messages: [whatsappText(waId, 'hi', { at: new Date(t.clock.now().getTime() + 10 * 3_600_000) })] }));
    expect((await contact(waId))!.last_inbound_at.getTime()).toBe(t.clock.now().getTime());
  });

  it('stores messages on the person’s open session once, however often they are delivered', async () => {
    const waId = newWaId();
    const sessionId = await sessionWithSentTemplate(waId, newWamid());
    const text = whatsappText(waId, 'Where is my order?', { at: ago(5_000) });
    const image = { from: waId, id: newWamid(), timestamp: String(unixSeconds(ago(4_000))), type: 'image', image: { id: '1234', mime_type: 'image/jpeg', sha256: 'abc' } };
    expect((await notify(whatsappChange({ messages: [text, image] }))).data).toEqual({ messages: 2, statuses: 0 });
    expect((await notify(whatsappChange({ messages: [text] }))).data).toEqual({ messages: 0, statuses: 0 });

    const inbound = (await messagesOf(sessionId)).filter((m) => m.direction === 'inbound');
    expect(inbound).toEqual([
      expect.objectContaining({ text: 'Where is my order?', status: 'received', providerMessageId: text.id, createdAt: new Date(secondsOf(ago(5_000))).toISOString() }),
      expect.objectContaining({ text: null, status: 'received', providerMessageId: image.id }),
    ]);
  });

  it('ignores changes for another phone number and fields other than messages', async () => {
    const waId = newWaId();
    const response = await postWhatsApp(
      t.app,
      liveChatId,
      whatsappNotification([
        whatsappChange({ messages: [whatsappText(waId, 'to another number')] }, '999999999999999'),
        { field: 'message_template_status_update', value: { event: 'APPROVED', message_template_id: 1, message_template_name: 'order_update' } } as never,
      ]),
    );
    expect(response.statusCode, response.body).toBe(200);
    expect(response.data).toEqual({ messages: 0, statuses: 0 });
    expect(await contact(waId)).toBeUndefined();
  });

  it('moves an outbound message to delivered, then read', async () => {
    const wamid = newWamid();
    const sessionId = await sessionWithSentTemplate(newWaId(), wamid);
    expect((await notify(whatsappChange({ statuses: [whatsappStatus(wamid, 'delivered')] }))).data).toEqual({ messages: 0, statuses: 1 });
    expect(await outboundOf(sessionId)).toMatchObject({ status: 'delivered', error: null });
    expect((await notify(whatsappChange({ statuses: [whatsappStatus(wamid, 'read')] }))).data).toEqual({ messages: 0, statuses: 1 });
    expect(await outboundOf(sessionId)).toMatchObject({ status: 'read' });
  });

  it('never moves a message backwards when statuses arrive out of order', async () => {
    const wamid = newWamid();
    const sessionId = await sessionWithSentTemplate(newWaId(), wamid);
    await notify(whatsappChange({ statuses: [whatsappStatus(wamid, 'read', { at: ago(1_000) })] }));
    for (const late of ['delivered', 'sent', 'failed']) {
      const errors = late === 'failed' ? [{ code: 131026, title: 'Message undeliverable' }] : undefined;
      const response = await notify(whatsappChange({ statuses: [whatsappStatus(wamid, late, { at: ago(2_000), ...(errors ? { errors } : {}) })] }));
      expect(response.data).toEqual({ messages: 0, statuses: 0 });
    }
    expect(await outboundOf(sessionId)).toMatchObject({ status: 'read', error: null });
  });

  it('applies a batch’s statuses in their own order, whatever order they are listed in', async () => {
    const wamid = newWamid();
    const sessionId = await sessionWithSentTemplate(newWaId(), wamid);
    const response = await notify(
      whatsappChange({ statuses: [whatsappStatus(wamid, 'read', { at: ago(1_000) }), whatsappStatus(wamid, 'delivered', { at: ago(2_000) })] }),
    );
    expect(response.data).toEqual({ messages: 0, statuses: 2 });
    expect(await outboundOf(sessionId)).toMatchObject({ status: 'read' });
  });

  it('marks a message failed with the provider’s code and text, and nothing revives it', async () => {
    const wamid = newWamid();
    const sessionId = await sessionWithSentTemplate(newWaId(), wamid);
    const errors = [{ code: 131047, title: 'Re-engagement message', message: 'Re-engagement message', error_data: { details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.' } }];
    expect((await notify(whatsappChange({ statuses: [whatsappStatus(wamid, 'failed', { errors })] }))).data).toEqual({ messages: 0, statuses: 1 });
    const failed = await outboundOf(sessionId);
    expect(failed.status).toBe('failed');
    expect(failed.error).toEqual({
      code: 'whatsapp_131047',
      message: 'Re-engagement message: Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
    });
    for (const late of ['delivered', 'read']) await notify(whatsappChange({ statuses: [whatsappStatus(wamid, late)] }));
    expect(await outboundOf(sessionId)).toMatchObject({ status: 'failed', error: failed.error });
  });

  it('ignores statuses of unknown messages and unknown status values', async () => {
    const wamid = newWamid();
    const sessionId = await sessionWithSentTemplate(newWaId(), wamid);
    const response = await notify(whatsappChange({ statuses: [whatsappStatus(newWamid(), 'delivered'), whatsappStatus(wamid, 'deleted')] }));
    expect(response.statusCode).toBe(200);
    expect(response.data).toEqual({ messages: 0, statuses: 0 });
    expect(await outboundOf(sessionId)).toMatchObject({ status: 'sent' });
  });

  it('does not apply a status to a message of another live chat with the same provider id', async () => {
    const wamid = newWamid();
    const sessionId = await sessionWithSentTemplate(newWaId(), wamid);
    const other = await liveChatWithOperator(t.app, 'whatsapp');
    const response = await postWhatsApp(t.app, other.liveChatId, whatsappNotification([whatsappChange({ statuses: [whatsappStatus(wamid, 'read')] })]));
    expect(response.data).toEqual({ messages: 0, statuses: 0 });
    expect(await outboundOf(sessionId)).toMatchObject({ status: 'sent' });
  });

  it('handles a batch with several entries and changes whole', async () => {
    const [ann, ben] = [newWaId(), newWaId()];
    const [wamidA, wamidB] = [newWamid(), newWamid()];
    const sessionA = await sessionWithSentTemplate(ann, wamidA);
    const sessionB = await sessionWithSentTemplate(ben, wamidB);
    const notification = whatsappNotification(
      [whatsappChange({ statuses: [whatsappStatus(wamidA, 'delivered')] }), whatsappChange({ messages: [whatsappText(ann, 'Thanks!')] })],
      [whatsappChange({ messages: [whatsappText(ben, 'Got it')], statuses: [whatsappStatus(wamidB, 'read')] }), whatsappChange({ statuses: [whatsappStatus(wamidA, 'read')] })],
    );
    const response = await postWhatsApp(t.app, liveChatId, notification);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.data).toEqual({ messages: 2, statuses: 3 });
    expect(await outboundOf(sessionA)).toMatchObject({ status: 'read' });
    expect(await outboundOf(sessionB)).toMatchObject({ status: 'read' });
    expect((await messagesOf(sessionA)).filter((m) => m.direction === 'inbound').map((m) => m.text)).toEqual(['Thanks!']);
    expect((await messagesOf(sessionB)).filter((m) => m.direction === 'inbound').map((m) => m.text)).toEqual(['Got it']);
    expect(await contact(ann)).toBeDefined();
    expect(await contact(ben)).toBeDefined();

    // The whole batch again (Meta retries on a timeout) changes nothing.
    expect((await postWhatsApp(t.app, liveChatId, notification)).data).toEqual({ messages: 0, statuses: 0 });
  });
});
