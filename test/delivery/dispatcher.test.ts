import type { Kysely } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/types.js';
import { prepareOutboundMessage } from '../../src/delivery/outbound-message.js';
import type { ClaimedMessage } from '../../src/delivery/outbox-repository.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { newPhone } from '../support/fixtures.js';
import { type HttpStandIn, closedPortUrl, waitUntil } from '../support/http-stand-in.js';
import { SmtpStandIn } from '../support/smtp-stand-in.js';
import { startTelegramStandIn, telegramError } from '../support/telegram-stand-in.js';
import { startWhatsAppStandIn, whatsAppError } from '../support/whatsapp-stand-in.js';
import { emailSession, messageOf, messagesOf, sendText, telegramSession, whatsAppSession } from './helpers.js';

const MAX_ATTEMPTS = 3;
let nextTelegramUser = 7_000_000;

/** Waits until the message leaves `queued` and returns the API's view of it. */
function settled(t: TestApp, sessionId: string, messageId: string) {
  return waitUntil(
    async () => {
      const message = await messageOf(t.app, sessionId, messageId);
      return message && message.status !== 'queued' ? message : undefined;
    },
    { what: `message ${messageId} to leave the outbox` },
  );
}

describe('dispatcher, end to end over real sockets', () => {
  let t: TestApp;
  let db: Kysely<Database>;
  let whatsapp: HttpStandIn;
  let telegram: HttpStandIn;
  let smtp: SmtpStandIn;

  beforeAll(async () => {
    [whatsapp, telegram, smtp] = await Promise.all([startWhatsAppStandIn(), startTelegramStandIn(), SmtpStandIn.start()]);
    t = await createTestApp({
      config: {
        dispatcherEnabled: true,
        whatsappApiBaseUrl: whatsapp.url,
        telegramApiBaseUrl: telegram.url,
        // A provider call gets 2 s: enough for a first SMTP connection on a loaded machine, so that
        // no attempt times out (and is retried) unless the stand-in is told to hang.
        delivery: { maxAttempts: MAX_ATTEMPTS, retryBaseMs: 20, retryMaxMs: 100, providerTimeoutMs: 2_000 },
      },
    });
    db = t.database.handle.db;
  });
  afterAll(async () => {
    await t.close();
    await Promise.all([whatsapp.close(), telegram.close(), smtp.close()]);
  });
  beforeEach(() => {
    whatsapp.reset();
    telegram.reset();
    smtp.reset();
  });

  describe('WhatsApp', () => {
    it('sends the first message of POST /sessions and records the wamid and the wa_id', async () => {
      const phone = newPhone();
      const session = await whatsAppSession(t.app, db, {
        phone,
        message: { template: { name: 'order_update', language: 'en_US', parameters: ['Asha'] } },
      });

      const message = await settled(t, session.sessionId, session.messageId!);

      expect(message).toMatchObject({ status: 'sent', providerMessageId: expect.stringMatching(/^wamid\./), attempts: 1, error: null });
      expect(whatsapp.requests).toHaveLength(1);
      expect(whatsapp.requests[0]!.path).toBe('/106540352242922/messages');
      expect(whatsapp.requests[0]!.headers.authorization).toBe('Bearer EAAG-test-access-token');
      expect(whatsapp.requests[0]!.body).toEqual({
        messaging_product: 'whatsapp',
        to: phone.slice(1),
        type: 'template',
        template: { name: 'order_update', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Asha' }] }] },
      });
      const row = await db.selectFrom('messages').select(['provider_recipient', 'locked_until', 'next_attempt_at']).where('id', '=', session.messageId!).executeTakeFirstOrThrow();
      expect(row).toEqual({ provider_recipient: phone.slice(1), locked_until: null, next_attempt_at: null });
    });

    it('retries transient failures (throughput limit, 5xx, a hung provider) and then sends', async () => {
      whatsapp.replyNext(whatsAppError(130429, 'Rate limit hit'), { hang: true });
      const session = await whatsAppSession(t.app, db, { phone: newPhone(), message: { text: 'Hello again' } });

      const message = await settled(t, session.sessionId, session.messageId!);

      expect(message).toMatchObject({ status: 'sent', attempts: 3, error: null });
      expect(whatsapp.requests).toHaveLength(3);
      expect(new Set(whatsapp.requests.map((r) => r.rawBody)).size).toBe(1);
    });

    it.each([
      [131026, 400, 'Message undeliverable'],
      [131047, 400, 'Re-engagement message'],
      [190, 401, 'Error validating access token'],
    ])('fails at once on permanent error %i and does not retry', async (code, status, text) => {
      whatsapp.replyNext(whatsAppError(code, text, status));
      const session = await whatsAppSession(t.app, db, { phone: newPhone(), message: { text: 'Hello' } });

      const message = await settled(t, session.sessionId, session.messageId!);
      expect(message).toMatchObject({ status: 'failed', attempts: 1, error: { code: `whatsapp_${code}`, message: text }, providerMessageId: null });

      // A later message of the session goes out, and the failed one was never tried again.
      const later = await sendText(t.app, session, 'Still there?');
      expect(await settled(t, session.sessionId, later)).toMatchObject({ status: 'sent' });
      expect(whatsapp.requests.map((r) => r.body.text.body)).toEqual(['Hello', 'Still there?']);
    });

    it('gives up after the last attempt with the last error', async () => {
      whatsapp.setHandler(() => ({ status: 500, body: {} }));
      const session = await whatsAppSession(t.app, db, { phone: newPhone(), message: { text: 'Hello' } });

      const message = await settled(t, session.sessionId, session.messageId!);

      expect(message).toMatchObject({ status: 'failed', attempts: MAX_ATTEMPTS, error: { code: 'whatsapp_http_500' } });
      expect(message.error.message).toContain(`gave up after ${MAX_ATTEMPTS} attempts`);
      expect(whatsapp.requests).toHaveLength(MAX_ATTEMPTS);
    });
  });

  describe('Telegram', () => {
    it("sends to the person's chat id from the webhook's record", async () => {
      const userId = nextTelegramUser++;
      const session = await telegramSession(t.app, db, { userId, text: 'Hello from the bot' });

      const message = await settled(t, session.sessionId, session.messageId!);

      expect(message).toMatchObject({ status: 'sent', providerMessageId: `${userId}:1`, attempts: 1 });
      expect(telegram.requests).toHaveLength(1);
      expect(telegram.requests[0]!.path).toBe('/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage');
      expect(telegram.requests[0]!.body).toEqual({ chat_id: userId, text: 'Hello from the bot' });
    });

    it('waits as long as retry_after asks, then sends', async () => {
      telegram.replyNext(telegramError(429, 'Too Many Requests: retry after 1', 1));
      const session = await telegramSession(t.app, db, { userId: nextTelegramUser++, text: 'Hello' });

      const message = await settled(t, session.sessionId, session.messageId!);

      expect(message).toMatchObject({ status: 'sent', attempts: 2 });
      expect(telegram.requests).toHaveLength(2);
      // The retry did not come before the second Telegram asked for (a lower bound, not a speed test).
      expect(telegram.requests[1]!.receivedAt - telegram.requests[0]!.receivedAt).toBeGreaterThanOrEqual(900);
    });

    it.each([
      [403, 'Forbidden: bot was blocked by the user'],
      [400, 'Bad Request: chat not found'],
    ])('fails at once on %i %s', async (status, description) => {
      telegram.replyNext(telegramError(status, description));
      const session = await telegramSession(t.app, db, { userId: nextTelegramUser++, text: 'Hello' });

      expect(await settled(t, session.sessionId, session.messageId!)).toMatchObject({
        status: 'failed',
        attempts: 1,
        error: { code: `telegram_${status}`, message: description },
      });
      expect(telegram.requests).toHaveLength(1);
    });

    it('fails a message to a person the bot has no chat with, without calling Telegram', async () => {
      const session = await telegramSession(t.app, db, { userId: nextTelegramUser++ });
      await db.deleteFrom('channel_contacts').where('live_chat_id', '=', session.liveChatId).execute();

      const messageId = await sendText(t.app, session, 'Hello');

      expect(await settled(t, session.sessionId, messageId)).toMatchObject({ status: 'failed', error: { code: 'telegram_chat_unknown' } });
      expect(telegram.requests).toHaveLength(0);
    });

    it("sends a session's messages in order, one at a time, also when one needs a retry", async () => {
      telegram.replyNext(telegramError(502, 'Bad Gateway'));
      const userId = nextTelegramUser++;
      const session = await telegramSession(t.app, db, { userId, text: 'one' });
      const ids = [session.messageId!];
      for (const text of ['two', 'three', 'four', 'five']) ids.push(await sendText(t.app, session, text));

      for (const id of ids) expect(await settled(t, session.sessionId, id)).toMatchObject({ status: 'sent' });

      expect(telegram.requests.map((r) => r.body.text)).toEqual(['one', 'one', 'two', 'three', 'four', 'five']);
      expect((await messagesOf(t.app, session.sessionId)).map((m) => m.providerMessageId)).toEqual([1, 2, 3, 4, 5].map((n) => `${userId}:${n}`));
    });
  });

  describe('email', () => {
    it('sends over SMTP and threads the later messages of the session on the earlier ones', async () => {
      const session = await emailSession(t.app, { smtpPort: smtp.port, text: 'Your order shipped.' });
      const first = await settled(t, session.sessionId, session.messageId!);
      const secondId = await sendText(t.app, session, 'It arrives tomorrow.');
      const second = await settled(t, session.sessionId, secondId);

      expect(first).toMatchObject({ status: 'sent', providerMessageId: `<${session.messageId}@example.com>` });
      expect(second).toMatchObject({ status: 'sent', providerMessageId: `<${secondId}@example.com>` });
      const [mail1, mail2] = smtp.received.map((r) => r.mail);
      expect(mail1!.from?.value[0]?.address).toBe('support@example.com');
      // Without a subject of its own, the session's first email takes the live chat's name.
      expect(mail1!.subject).toMatch(/^email /);
      expect(mail1!.messageId).toBe(first.providerMessageId);
      expect(mail1!.inReplyTo).toBeUndefined();
      expect(mail2!.subject).toBe(`Re: ${mail1!.subject}`);
      expect(mail2!.messageId).toBe(second.providerMessageId);
      expect(mail2!.inReplyTo).toBe(first.providerMessageId);
      expect(mail2!.references).toBe(first.providerMessageId);
    });

    it('threads a long session on its latest 20 messages only: loaded so, and sent so in References', async () => {
      const session = await emailSession(t.app, { smtpPort: smtp.port, text: 'Message 1' });
      const ids = [session.messageId!];
      await settled(t, session.sessionId, ids[0]!);
      for (let n = 2; n <= 25; n++) {
        ids.push(await sendText(t.app, session, `Message ${n}`));
        expect(await settled(t, session.sessionId, ids.at(-1)!)).toMatchObject({ status: 'sent' });
      }
      const providerIds = (await messagesOf(t.app, session.sessionId)).map((m) => m.providerMessageId as string);
      expect(providerIds).toHaveLength(25);
      const latest20 = providerIds.slice(4, 24);

      const last = smtp.received.at(-1)!.mail;
      expect(last.text?.trim()).toBe('Message 25');
      expect(last.inReplyTo).toBe(providerIds[23]);
      expect(last.references).toEqual(latest20);
      // The thread is read from the database already bounded, not loaded in full and cut by the client.
      const { seq } = await db.selectFrom('messages').select('seq').where('id', '=', ids.at(-1)!).executeTakeFirstOrThrow();
      const { sessionId, liveChatId } = session;
      const account = 'a@example.org';
      const claim: ClaimedMessage = { id: ids.at(-1)!, sessionId, liveChatId, channel: 'email', account, peer: account, seq, text: 'Message 25', template: null, subject: null, attempts: 1, lockedUntil: new Date() };
      expect(await prepareOutboundMessage(db, claim)).toMatchObject({ thread: latest20 });
    });

    it('retries a 4xx reply and fails a 5xx reply at once', async () => {
      smtp.failNext({ at: 'rcpt', code: 451, message: 'Greylisted, try again' });
      const retried = await emailSession(t.app, { smtpPort: smtp.port, text: 'Hello' });
      expect(await settled(t, retried.sessionId, retried.messageId!)).toMatchObject({ status: 'sent', attempts: 2 });

      smtp.failNext({ at: 'rcpt', code: 550, message: 'No such user here' });
      const failed = await emailSession(t.app, { smtpPort: smtp.port, text: 'Hello' });
      expect(await settled(t, failed.sessionId, failed.messageId!)).toMatchObject({
        status: 'failed',
        attempts: 1,
        error: { code: 'smtp_550', message: expect.stringContaining('No such user here') },
      });
      expect(smtp.received).toHaveLength(1);
    });

    it('retries an SMTP server that refuses connections, then fails with the network error', async () => {
      const port = Number(new URL(await closedPortUrl()).port);
      const session = await emailSession(t.app, { smtpPort: port, text: 'Hello' });

      expect(await settled(t, session.sessionId, session.messageId!)).toMatchObject({
        status: 'failed',
        attempts: MAX_ATTEMPTS,
        error: { code: 'network_error' },
      });
    });
  });

  it('keeps secrets out of the API while delivering', async () => {
    const session = await whatsAppSession(t.app, db, { phone: newPhone(), message: { text: 'Hi' } });
    await settled(t, session.sessionId, session.messageId!);
    const response = await call(t.app, 'GET', `/sessions/${session.sessionId}/messages`);
    expect(response.body).not.toContain('EAAG-test-access-token');
  });
});
