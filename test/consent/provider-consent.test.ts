import type { Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createChannelRegistry } from '../../src/channels/registry.js';
import type { Database } from '../../src/db/types.js';
import { attemptContext, attemptDelivery } from '../../src/delivery/attempt.js';
import type { Dispatcher } from '../../src/delivery/dispatcher.js';
import { claimDueMessages } from '../../src/delivery/outbox-repository.js';
import pino from 'pino';
import { type TestApp, call, createTestApp, testConfig } from '../support/app.js';
import { liveChatWithOperator, newPhone, personWrote } from '../support/fixtures.js';
import { type HttpStandIn, waitUntil } from '../support/http-stand-in.js';
import { startTelegramStandIn, telegramError } from '../support/telegram-stand-in.js';
import { startWhatsAppStandIn } from '../support/whatsapp-stand-in.js';
import { messagesOf, sendText, testDispatcher } from '../delivery/helpers.js';
import { nextUpdateId, postTelegram, postWhatsApp, telegramMessage, whatsappChange, whatsappNotification, whatsappText } from '../webhooks/providers.js';

let nextUser = 810_000_000;

describe('consent said through the providers', () => {
  let t: TestApp;
  let db: Kysely<Database>;
  let whatsapp: HttpStandIn;
  let telegram: HttpStandIn;
  let wa: { liveChatId: string; operatorId: string };
  let tg: { liveChatId: string; operatorId: string };
  const dispatchers: Dispatcher[] = [];

  beforeAll(async () => {
    [whatsapp, telegram] = await Promise.all([startWhatsAppStandIn(), startTelegramStandIn()]);
    t = await createTestApp();
    db = t.database.handle.db;
    wa = await liveChatWithOperator(t.app, 'whatsapp');
    tg = await liveChatWithOperator(t.app, 'telegram');
  });
  afterEach(async () => {
    await Promise.all(dispatchers.splice(0).map((d) => d.stop({ graceMs: 100 })));
  });
  afterAll(async () => {
    await t.close();
    await Promise.all([whatsapp.close(), telegram.close()]);
  });
  beforeEach(() => {
    whatsapp.reset();
    telegram.reset();
  });

  /** A dispatcher delivering to the stand-ins (the app runs none): started when the test is ready for it. */
  function startDispatcher(): Dispatcher {
    const config = testConfig({ whatsappApiBaseUrl: whatsapp.url, telegramApiBaseUrl: telegram.url });
    const dispatcher = testDispatcher(t, createChannelRegistry(config));
    dispatchers.push(dispatcher);
    dispatcher.start();
    return dispatcher;
  }

  const optOutsOf = async (chat: { liveChatId: string }, account: string) =>
    (await call(t.app, 'GET', `/live-chats/${chat.liveChatId}/opt-outs?account=${encodeURIComponent(account)}`)).data.items;

  /** The live chat's events of these types, oldest first. */
  const eventsOf = async (chat: { liveChatId: string }, types: string) =>
    (await call(t.app, 'GET', `/events?liveChatId=${chat.liveChatId}&types=${types}&limit=500`)).data.items as { type: string; data: Record<string, any> }[];

  const whatsAppSays = (phone: string, text: string) => postWhatsApp(t.app, wa.liveChatId, whatsappNotification([whatsappChange({ messages: [whatsappText(phone.slice(1), text)] })]));

  async function telegramPerson() {
    const person = { id: nextUser++, username: `tg_person_${nextUser}` };
    await postTelegram(t.app, tg.liveChatId, telegramMessage(person, { text: '/start' }));
    return person;
  }
  /**
   * Initiates with a Telegram person whose own messages opened inbound sessions: those are
   * closed first (an open one would answer 409 session_already_open).
   */
  const initiateOnTelegram = async (person: { id: number; username: string }) => {
    const open = await db.selectFrom('sessions').select('id').where('live_chat_id', '=', tg.liveChatId).where('peer', '=', `tg:${person.id}`).where('status', '=', 'open').execute();
    for (const { id } of open) expect((await call(t.app, 'POST', `/sessions/${id}/close`)).statusCode).toBe(200);
    return call(t.app, 'POST', '/sessions', { liveChatId: tg.liveChatId, operatorId: tg.operatorId, contact: { name: 'Ann' }, account: `@${person.username}`, message: { text: 'Hi' } });
  };
  const chatMember = (person: { id: number }, status: string) => ({
    update_id: nextUpdateId(),
    my_chat_member: {
      chat: { id: person.id, type: 'private' },
      from: { id: person.id, is_bot: false, first_name: 'Ann' },
      date: Math.floor(Date.now() / 1000),
      old_chat_member: { user: { id: 123456789, is_bot: true }, status: status === 'kicked' ? 'member' : 'kicked' },
      new_chat_member: { user: { id: 123456789, is_bot: true }, status },
    },
  });

  it('opts a WhatsApp person out on a whole-message keyword in any case, and back in on START', async () => {
    const phone = newPhone();
    expect((await whatsAppSays(phone, 'please stop calling')).statusCode).toBe(200);
    expect(await optOutsOf(wa, phone)).toEqual([]);

    expect((await whatsAppSays(phone, '  Stop \n')).statusCode).toBe(200);
    expect(await optOutsOf(wa, phone)).toMatchObject([{ account: phone, source: 'keyword', reason: null }]);
    const refused = await call(t.app, 'POST', '/sessions', { liveChatId: wa.liveChatId, operatorId: wa.operatorId, contact: { name: 'Ann', phones: [phone] }, message: { text: 'Sorry!' } });
    expect(refused.data.code).toBe('contact_opted_out');

    await whatsAppSays(phone, 'start');
    expect(await optOutsOf(wa, phone)).toEqual([]);
    // Each change is one event; the repeated STOP and START above changed nothing more.
    await whatsAppSays(phone, 'START');
    const changes = (await eventsOf(wa, 'contact.opted_out,contact.opted_in')).filter((e) => e.data.account === phone);
    expect(changes.map((e) => [e.type, e.data])).toEqual([
      ['contact.opted_out', { liveChatId: wa.liveChatId, account: phone, source: 'keyword' }],
      ['contact.opted_in', { liveChatId: wa.liveChatId, account: phone, source: 'keyword' }],
    ]);
  });

  it('opts a Telegram person out on ОТПИСАТЬСЯ by their user id, whatever account reaches them, until UNSTOP', async () => {
    const person = await telegramPerson();
    await postTelegram(t.app, tg.liveChatId, telegramMessage(person, { text: 'отписаться' }));
    expect(await optOutsOf(tg, `tg:${person.id}`)).toMatchObject([{ account: `tg:${person.id}`, source: 'keyword' }]);
    expect((await initiateOnTelegram(person)).data.code).toBe('contact_opted_out');
    // Writing something else does not lift a keyword opt-out…
    await postTelegram(t.app, tg.liveChatId, telegramMessage(person, { text: 'hello?' }));
    expect((await initiateOnTelegram(person)).data.code).toBe('contact_opted_out');
    // …the opt-in keyword does.
    await postTelegram(t.app, tg.liveChatId, telegramMessage(person, { text: 'UNSTOP' }));
    expect((await initiateOnTelegram(person)).statusCode).toBe(201);
  });

  it('opts a Telegram person out when they block the bot, and back in when they unblock it or write again', async () => {
    const person = await telegramPerson();
    expect((await postTelegram(t.app, tg.liveChatId, chatMember(person, 'kicked'))).data).toEqual({ outcome: 'processed' });
    expect(await optOutsOf(tg, `tg:${person.id}`)).toMatchObject([{ source: 'provider', reason: 'The person blocked the bot.' }]);
    expect((await initiateOnTelegram(person)).data.code).toBe('contact_opted_out');
    await postTelegram(t.app, tg.liveChatId, chatMember(person, 'member'));
    expect(await optOutsOf(tg, `tg:${person.id}`)).toEqual([]);

    await postTelegram(t.app, tg.liveChatId, chatMember(person, 'kicked'));
    expect(await optOutsOf(tg, `tg:${person.id}`)).toHaveLength(1);
    await postTelegram(t.app, tg.liveChatId, telegramMessage(person, { text: 'I am back' }));
    expect(await optOutsOf(tg, `tg:${person.id}`)).toEqual([]);
    // Each change is an event naming the person by their Telegram user id.
    const snapshot = { liveChatId: tg.liveChatId, account: `tg:${person.id}`, source: 'provider' };
    const changes = (await eventsOf(tg, 'contact.opted_out,contact.opted_in')).filter((e) => e.data.account === `tg:${person.id}`);
    expect(changes.map((e) => [e.type, e.data])).toEqual([
      ['contact.opted_out', snapshot],
      ['contact.opted_in', snapshot],
      ['contact.opted_out', snapshot],
      ['contact.opted_in', snapshot],
    ]);
  });

  it('opts a Telegram person out when a send finds the bot blocked, and fails what was queued for them', async () => {
    const person = await telegramPerson();
    const session = await initiateOnTelegram(person);
    const sessionId = session.data.id as string;
    await sendText(t.app, { sessionId, liveChatId: tg.liveChatId, operatorId: tg.operatorId, messageId: null }, 'Second');
    // Only this person's messages wait for the dispatcher, so that theirs takes the reply.
    await db.updateTable('messages').set({ status: 'failed' }).where('status', '=', 'queued').where('session_id', '<>', sessionId).execute();
    telegram.replyNext(telegramError(403, 'Forbidden: bot was blocked by the user'));
    startDispatcher();

    const messages = await waitUntil(
      async () => {
        const all = await messagesOf(t.app, sessionId);
        return all.every((m) => m.status === 'failed') ? all : undefined;
      },
      { what: 'both messages to fail' },
    );
    expect(messages.map((m) => m.error.code)).toEqual(['telegram_403', 'contact_opted_out']);
    expect(telegram.requests).toHaveLength(1);
    expect(await optOutsOf(tg, `tg:${person.id}`)).toMatchObject([{ source: 'provider' }]);
  });

  it('does not send a message queued before the person wrote STOP', async () => {
    const phone = newPhone();
    await personWrote(db, wa.liveChatId, { externalUserId: phone.slice(1), phone }, new Date());
    const created = await call(t.app, 'POST', '/sessions', { liveChatId: wa.liveChatId, operatorId: wa.operatorId, contact: { name: 'Ann', phones: [phone] }, message: { text: 'Your order' } });
    expect((await messagesOf(t.app, created.data.id))[0]).toMatchObject({ status: 'queued' });

    await whatsAppSays(phone, 'STOP');

    const [message, stop] = await messagesOf(t.app, created.data.id);
    expect(message).toMatchObject({ status: 'failed', error: { code: 'contact_opted_out' } });
    // The STOP itself is stored on the session, as every inbound message is.
    expect(stop).toMatchObject({ direction: 'inbound', text: 'STOP' });
    // Both changes are events: the opt-out, and the message failed by it.
    const optedOut = (await eventsOf(wa, 'contact.opted_out')).filter((e) => e.data.account === phone);
    expect(optedOut.map((e) => e.data)).toEqual([{ liveChatId: wa.liveChatId, account: phone, source: 'keyword' }]);
    const failed = (await eventsOf(wa, 'message.failed')).filter((e) => e.data.message.id === message.id);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.data.message).toMatchObject({ status: 'failed', error: { code: 'contact_opted_out' } });
    startDispatcher();
    await waitUntil(async () => (await call(t.app, 'GET', `/live-chats/${wa.liveChatId}`)).data.queuedMessages === 0, { what: 'the outbox to empty' });
    expect(whatsapp.requests.filter((r) => r.body?.to === phone.slice(1))).toEqual([]);
  });

  it('fails at the claim a queued message whose person opted out without it being failed then', async () => {
    const phone = newPhone();
    await personWrote(db, wa.liveChatId, { externalUserId: phone.slice(1), phone }, new Date());
    const created = await call(t.app, 'POST', '/sessions', { liveChatId: wa.liveChatId, operatorId: wa.operatorId, contact: { name: 'Ann', phones: [phone] }, message: { text: 'Your order' } });
    // An opt-out written as a concurrent webhook might leave it: the message not failed yet.
    await db.insertInto('opt_outs').values({ live_chat_id: wa.liveChatId, account: phone, source: 'keyword', reason: null }).execute();

    const claimed = await claimDueMessages(db, { limit: 100, leaseMs: 30_000 });
    expect(claimed.map((c) => c.sessionId)).not.toContain(created.data.id);
    const [message] = await messagesOf(t.app, created.data.id);
    expect(message).toMatchObject({ status: 'failed', error: { code: 'contact_opted_out' } });
    expect((await eventsOf(wa, 'message.failed')).filter((e) => e.data.message.id === message.id)).toHaveLength(1);
  });

  it('checks again before sending a message that waited for its slot', async () => {
    const phone = newPhone();
    await personWrote(db, wa.liveChatId, { externalUserId: phone.slice(1), phone }, new Date());
    const created = await call(t.app, 'POST', '/sessions', { liveChatId: wa.liveChatId, operatorId: wa.operatorId, contact: { name: 'Ann', phones: [phone] }, message: { text: 'Your order' } });
    const [claim] = (await claimDueMessages(db, { limit: 100, leaseMs: 30_000 })).filter((c) => c.sessionId === created.data.id);
    // The person opts out while the claimed message waits for its slot.
    await call(t.app, 'PUT', `/live-chats/${wa.liveChatId}/opt-outs/${encodeURIComponent(phone)}`);

    const config = testConfig({ whatsappApiBaseUrl: whatsapp.url });
    const context = attemptContext({ db, channels: createChannelRegistry(config), liveChats: t.app.services.liveChats, policy: { maxAttempts: 3, baseMs: 20, maxMs: 100 }, log: pino({ level: 'silent' }), shutdown: new AbortController().signal });
    await attemptDelivery(claim!, context, async () => ({ waitedMs: 500, done: () => {} }));

    expect((await messagesOf(t.app, created.data.id))[0]).toMatchObject({ status: 'failed', error: { code: 'contact_opted_out' } });
    expect(whatsapp.requests).toEqual([]);
  });
});
