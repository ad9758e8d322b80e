import { randomUUID } from 'node:crypto';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type JsonResponse, type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator } from '../support/fixtures.js';
import { waitUntil } from '../support/http-stand-in.js';
import { expectProblem } from '../support/problems.js';
import { SmtpStandIn } from '../support/smtp-stand-in.js';

const INBOUND_SECRET = 'inbound-secret-0123456789';
const INBOX = 'support@example.com';

/** A raw RFC 5322 message, as a mail server would pipe it (built by nodemailer itself). */
async function rawEmail(options: SendMailOptions): Promise<Buffer> {
  const info = await nodemailer.createTransport({ streamTransport: true, buffer: true }).sendMail({ to: INBOX, ...options });
  return info.message as Buffer;
}

let t: TestApp;
let smtp: SmtpStandIn;
let liveChatId: string;
let operatorId: string;

beforeAll(async () => {
  smtp = await SmtpStandIn.start();
  t = await createTestApp({ config: { dispatcherEnabled: true, delivery: { maxAttempts: 3, retryBaseMs: 20, retryMaxMs: 100, providerTimeoutMs: 2_000 } } });
  ({ liveChatId, operatorId } = await liveChatWithOperator(t.app, 'email', { smtp: { host: '127.0.0.1', port: smtp.port, secure: false }, inboundSecret: INBOUND_SECRET }));
});
afterAll(async () => {
  await t.close();
  await smtp.close();
});
beforeEach(() => smtp.reset());

async function postEmail(raw: Buffer | string, options: { secret?: string | null; chat?: string } = {}): Promise<JsonResponse> {
  const secret = options.secret === undefined ? INBOUND_SECRET : options.secret;
  const response = await t.app.inject({
    method: 'POST',
    url: `/webhooks/email/${options.chat ?? liveChatId}`,
    headers: { 'content-type': 'message/rfc822', ...(secret !== null ? { authorization: `Bearer ${secret}` } : {}) },
    payload: raw,
  });
  const data = /json/.test(String(response.headers['content-type'])) ? JSON.parse(response.body) : response.body;
  return Object.assign(response, { data });
}

const messagesOf = async (sessionId: string) => (await call(t.app, 'GET', `/sessions/${sessionId}/messages`)).data.items as Array<Record<string, any>>;
const stranger = () => `person-${randomUUID().slice(0, 8)}@customer.example`;

describe('POST /webhooks/email/{liveChatId}', () => {
  it('refuses a wrong or missing inbound secret with 401, and every call to an inbox without one', async () => {
    const raw = await rawEmail({ from: stranger(), subject: 'Hello', text: 'Hi' });
    expectProblem(await postEmail(raw, { secret: 'wrong-secret-0123456789' }), 401, 'invalid_inbound_secret');
    expectProblem(await postEmail(raw, { secret: null }), 401, 'invalid_inbound_secret');
    const closed = await liveChatWithOperator(t.app, 'email');
    expectProblem(await postEmail(raw, { chat: closed.liveChatId }), 401, 'invalid_inbound_secret');
    expectProblem(await postEmail(raw, { chat: randomUUID() }), 404, 'live_chat_not_found');
  });

  it('opens a session in the queue for an email from a stranger, for a new contact named after the sender', async () => {
    const from = stranger();
    const response = await postEmail(await rawEmail({ from: { name: 'Grace Hopper', address: from }, subject: 'My invoice', text: 'Where is my invoice?' }));
    expect(response.statusCode, response.body).toBe(200);
    expect(response.data).toMatchObject({ outcome: 'processed', sessionId: expect.any(String) });

    const session = (await call(t.app, 'GET', `/sessions/${response.data.sessionId}`)).data;
    expect(session).toMatchObject({ liveChatId, channel: 'email', account: from, origin: 'inbound', operatorId: null, status: 'open' });
    const contact = (await call(t.app, 'GET', `/contacts/${session.contactId}`)).data;
    expect(contact).toMatchObject({ name: 'Grace Hopper', emails: [from] });
    expect(await messagesOf(session.id)).toEqual([
      expect.objectContaining({ direction: 'inbound', kind: 'text', status: 'received', subject: 'My invoice', text: 'Where is my invoice?', media: null }),
    ]);
  });

  it('stores the same Message-ID once', async () => {
    const raw = await rawEmail({ from: stranger(), subject: 'Twice', text: 'Sent twice', messageId: `<${randomUUID()}@customer.example>` });
    const first = await postEmail(raw);
    expect(first.data.outcome).toBe('processed');
    expect((await postEmail(raw)).data).toEqual({ outcome: 'duplicate', sessionId: null });
    expect(await messagesOf(first.data.sessionId)).toHaveLength(1);
  });

  it('stores a reply to a message the service sent on that session, and the session’s emails thread as Re: the first subject', async () => {
    const customer = stranger();
    const created = await call(t.app, 'POST', '/sessions', {
      liveChatId,
      operatorId,
      contact: { name: 'Ada', emails: [customer] },
      message: { text: 'Your order shipped.', subject: 'Order 4711' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const sent = await waitUntil(async () => (await messagesOf(created.data.id)).find((m) => m.status === 'sent'), { what: 'the first email to be sent' });
    expect(sent.subject).toBe('Order 4711');

    const reply = await rawEmail({ from: customer, subject: 'Re: Order 4711', text: 'Thanks! When does it arrive?', inReplyTo: sent.providerMessageId, references: [sent.providerMessageId] });
    expect((await postEmail(reply)).data).toMatchObject({ outcome: 'processed', sessionId: created.data.id });

    const answer = await call(t.app, 'POST', `/sessions/${created.data.id}/messages`, { operatorId, text: 'Tomorrow.' });
    expect(answer.statusCode, answer.body).toBe(202);
    expect(answer.data.subject).toBe('Re: Order 4711');
    await waitUntil(() => smtp.received.length === 2 || undefined, { what: 'both emails to reach the SMTP server' });
    expect(smtp.received.map((r) => r.mail.subject)).toEqual(['Order 4711', 'Re: Order 4711']);
    expect((await messagesOf(created.data.id)).map((m) => [m.direction, m.text])).toEqual([
      ['outbound', 'Your order shipped.'],
      ['inbound', 'Thanks! When does it arrive?'],
      ['outbound', 'Tomorrow.'],
    ]);
  });

  it('gives an email without a subject the live chat’s name', async () => {
    const created = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Bo', emails: [stranger()] }, message: { text: 'Hello Bo' } });
    expect(created.statusCode, created.body).toBe(201);
    const liveChat = (await call(t.app, 'GET', `/live-chats/${liveChatId}`)).data;
    expect((await messagesOf(created.data.id))[0]!.subject).toBe(liveChat.name);
  });

  it('puts a reply whose session was closed on the sender’s open session, else on a new one in the queue', async () => {
    const customer = stranger();
    const created = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Cy', emails: [customer] }, message: { text: 'Hi Cy' } });
    const sent = await waitUntil(async () => (await messagesOf(created.data.id)).find((m) => m.status === 'sent'), { what: 'the email to be sent' });
    expect((await call(t.app, 'POST', `/sessions/${created.data.id}/close`, {})).statusCode).toBe(200);

    const reply = await postEmail(await rawEmail({ from: customer, subject: 'Re: Hi', text: 'Late answer', inReplyTo: sent.providerMessageId }));
    expect(reply.data.sessionId).not.toBe(created.data.id);
    const reopened = (await call(t.app, 'GET', `/sessions/${reply.data.sessionId}`)).data;
    expect(reopened).toMatchObject({ origin: 'inbound', operatorId: null, contactId: created.data.contactId });

    // Another email from them goes on that open session.
    expect((await postEmail(await rawEmail({ from: customer, subject: 'And', text: 'one more thing' }))).data.sessionId).toBe(reopened.id);
  });

  it('converts an HTML-only email to text and keeps its attachments as media metadata', async () => {
    const response = await postEmail(
      await rawEmail({
        from: stranger(),
        subject: 'Photos',
        html: '<p>Here are <b>two</b> photos.</p><p>Thanks</p>',
        attachments: [
          { filename: 'front.jpg', content: Buffer.from('jpeg bytes'), contentType: 'image/jpeg' },
          { filename: 'invoice.pdf', content: Buffer.from('%PDF-1.4'), contentType: 'application/pdf' },
        ],
      }),
    );
    expect(response.statusCode, response.body).toBe(200);
    const [mail, second] = await messagesOf(response.data.sessionId);
    expect(mail).toMatchObject({ kind: 'text', subject: 'Photos', media: { mimeType: 'image/jpeg', fileName: 'front.jpg', providerMediaId: expect.any(String) } });
    expect(mail!.text).toMatch(/^Here are two photos\.\s+Thanks$/);
    expect(second).toMatchObject({ kind: 'document', text: null, subject: 'Photos', media: { mimeType: 'application/pdf', fileName: 'invoice.pdf' } });
  });

  it('answers 413 for a message over 10 MB, and 400 for one without a sender', async () => {
    const huge = await rawEmail({ from: stranger(), subject: 'Big', text: 'x', attachments: [{ filename: 'big.bin', content: Buffer.alloc(11 * 1024 * 1024, 1) }] });
    expectProblem(await postEmail(huge), 413, 'payload_too_large');
    expectProblem(await postEmail('Subject: nobody\r\n\r\nno sender here\r\n'), 400, 'validation_failed');
  });
});
