import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChannelContactByExternalId } from '../../src/channel-contacts/repository.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { dismissQueue, liveChatWithOperator } from '../support/fixtures.js';
import { expectFieldError, expectProblem } from '../support/problems.js';
import { nextUpdateId, postTelegram, telegramMessage, telegramSharedContact, unixSeconds } from './providers.js';

let personCounter = 0;
/** A Telegram person no test has used yet. */
function newPerson() {
  const n = personCounter++;
  return { id: 700_000_000 + n * 7 + Math.floor(Math.random() * 7), username: `Ann_${n}_${Date.now().toString(36)}` };
}

describe('POST /webhooks/telegram/{liveChatId}', () => {
  let t: TestApp;
  let liveChatId: string;
  let operatorId: string;
  beforeAll(async () => {
    t = await createTestApp();
    ({ liveChatId, operatorId } = await liveChatWithOperator(t.app, 'telegram'));
  });
  afterAll(() => t.close());

  const channelContact = (userId: number) => findChannelContactByExternalId(t.database.handle.db, liveChatId, String(userId));
  it('records who wrote: user id, chat id, username and the time of their message', async () => {
    const person = newPerson();
    const sentAt = new Date(t.clock.now().getTime() - 5 * 60_000);
    const response = await postTelegram(t.app, liveChatId, telegramMessage(person, { text: '/start' }, { date: sentAt }));
    expect(response.statusCode, response.body).toBe(200);
    expect(response.data).toEqual({ outcome: 'processed' });
    const row = await channelContact(person.id);
    expect(row).toMatchObject({ external_user_id: String(person.id), chat_id: String(person.id), username: person.username, phone: null });
    expect(row!.last_inbound_at.getTime()).toBe(unixSeconds(sentAt) * 1000);
    expect(row!.first_inbound_at.getTime()).toBe(unixSeconds(sentAt) * 1000);
  });

  it('records the phone, in E.164, when the person shares their own contact', async () => {
    const person = newPerson();
    await postTelegram(t.app, liveChatId, telegramMessage(person, { text: '/start' }));
    const response = await postTelegram(t.app, liveChatId, telegramSharedContact(person, '79001234567'));
    expect(response.statusCode, response.body).toBe(200);
    expect(await channelContact(person.id)).toMatchObject({ phone: '+79001234567', username: person.username });

    // A later message without the contact keeps the phone.
    await postTelegram(t.app, liveChatId, telegramMessage(person, { text: 'thanks' }));
    expect(await channelContact(person.id)).toMatchObject({ phone: '+79001234567', username: person.username });
  });

  it('forgets a username the person gave up, so that @name no longer reaches them', async () => {
    const person = newPerson();
    await postTelegram(t.app, liveChatId, telegramMessage(person, { text: '/start' }, { date: new Date(t.clock.now().getTime() - 60_000) }));
    // Telegram sends a sender's username whenever they have one: none now.
    await postTelegram(t.app, liveChatId, telegramMessage({ id: person.id }, { text: 'still me' }));
    expect(await channelContact(person.id)).toMatchObject({ username: null });

    const refused = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Ann' }, account: `@${person.username}` });
    expectProblem(refused, 422, 'telegram_no_prior_contact');
  });

  it('takes a changed username, and does not let an older update that arrives late bring back the old one', async () => {
    const person = newPerson();
    const renamed = { ...person, username: `${person.username}_new` };
    const at = (secondsAgo: number) => new Date(t.clock.now().getTime() - secondsAgo * 1000);
    await postTelegram(t.app, liveChatId, telegramMessage(person, { text: 'first' }, { date: at(120) }));
    await postTelegram(t.app, liveChatId, telegramMessage(renamed, { text: 'third' }, { date: at(10) }));
    expect(await channelContact(person.id)).toMatchObject({ username: renamed.username });

    // Telegram redelivers an older update (a new update_id, its own earlier date) after the newer one.
    await postTelegram(t.app, liveChatId, telegramMessage(person, { text: 'second' }, { date: at(60) }));
    expect(await channelContact(person.id)).toMatchObject({ username: renamed.username });
  });

  it('keeps the + of a phone that already has it', async () => {
    const person = newPerson();
    await postTelegram(t.app, liveChatId, telegramSharedContact(person, '+49 151 23456789'));
    expect((await channelContact(person.id))?.phone).toBe('+4915123456789');
  });

  it('ignores a shared contact card of someone else', async () => {
    const person = newPerson();
    const response = await postTelegram(t.app, liveChatId, telegramSharedContact(person, '79001234567', { userId: person.id + 1 }));
    expect(response.statusCode).toBe(200);
    const row = await channelContact(person.id);
    expect(row).toBeDefined();
    expect(row!.phone).toBeNull();
    expect(await channelContact(person.id + 1)).toBeUndefined();
  });

  it('refuses a wrong or missing secret token with 401 and records nothing', async () => {
    const person = newPerson();
    for (const secret of ['wrong-secret', 'telegram-webhook-secreT', 'telegram-webhook-secret ', '', null]) {
      const response = await postTelegram(t.app, liveChatId, telegramMessage(person, { text: 'hi' }), { secret });
      expectProblem(response, 401, 'invalid_webhook_secret');
      expect(response.headers['www-authenticate']).toBe('Secret-Token header="X-Telegram-Bot-Api-Secret-Token"');
    }
    expect(await channelContact(person.id)).toBeUndefined();
  });

  it('answers 404 for an unknown live chat, a malformed id and a live chat on another channel', async () => {
    const update = telegramMessage(newPerson(), { text: 'hi' });
    expectProblem(await postTelegram(t.app, '3f1c2d9e-5b7a-4c1e-9f0a-123456789abc', update), 404, 'live_chat_not_found');
    expectProblem(await postTelegram(t.app, 'not-a-uuid', update), 404, 'live_chat_not_found');
    const whatsapp = await liveChatWithOperator(t.app, 'whatsapp');
    expectProblem(await postTelegram(t.app, whatsapp.liveChatId, update), 404, 'live_chat_not_found');
  });

  it('answers 400 invalid_json for a malformed body, after checking the secret', async () => {
    expectFieldError(await postTelegram(t.app, liveChatId, '{"update_id": 1, "message": {'), '', 'invalid_json');
    expectFieldError(await postTelegram(t.app, liveChatId, ''), '', 'invalid_json');
    expectProblem(await postTelegram(t.app, liveChatId, '{"update_id": 1, "message": {', { secret: 'wrong' }), 401, 'invalid_webhook_secret');
  });

  it('answers 400 for JSON that is not an Update', async () => {
    expectFieldError(await postTelegram(t.app, liveChatId, { message: { text: 'hi' } }), '/update_id', 'required');
    expectFieldError(await postTelegram(t.app, liveChatId, { update_id: 'seven' }), '/update_id', 'invalid_type');
  });

  it('refuses a body that is not JSON with 415', async () => {
    const response = await postTelegram(t.app, liveChatId, 'update_id=1', { contentType: 'application/x-www-form-urlencoded' });
    expectProblem(response, 415, 'unsupported_media_type');
  });

  it('acknowledges update types it does not use, and records nothing', async () => {
    const person = newPerson();
    const from = { id: person.id, is_bot: false, first_name: 'Ann', username: person.username };
    const chat = { id: person.id, type: 'private' };
    const date = unixSeconds(new Date());
    const updates = [
      { update_id: nextUpdateId(), edited_message: { message_id: 1, from, chat, date, edit_date: date, text: 'edited' } },
      { update_id: nextUpdateId(), callback_query: { id: '4382bfdwdsb323b2d9', from, chat_instance: '42', data: 'yes' } },
      { update_id: nextUpdateId(), my_chat_member: { chat, from, date, old_chat_member: {}, new_chat_member: {} } },
      // A group message and a bot's message are not a person writing to the bot.
      { update_id: nextUpdateId(), message: { message_id: 2, from, chat: { id: -1001234567890, type: 'supergroup', title: 'Team' }, date, text: 'hi all' } },
      { update_id: nextUpdateId(), message: { message_id: 3, from: { ...from, is_bot: true }, chat, date, text: 'beep' } },
    ];
    for (const update of updates) {
      const response = await postTelegram(t.app, liveChatId, update);
      expect(response.statusCode, response.body).toBe(200);
      expect(response.data).toEqual({ outcome: 'ignored' });
    }
    expect(await channelContact(person.id)).toBeUndefined();
  });

  it('changes nothing when an update is replayed', async () => {
    const person = newPerson();
    const first = telegramMessage(person, { text: '/start' }, { date: new Date(t.clock.now().getTime() - 60_000) });
    await postTelegram(t.app, liveChatId, first);
    const before = await channelContact(person.id);

    // The same update_id again, even with other content, is a replay.
    const replay = telegramMessage({ ...person, username: 'someone_else' }, { text: 'later' }, { updateId: first.update_id, date: t.clock.now() });
    const response = await postTelegram(t.app, liveChatId, replay);
    expect(response.statusCode).toBe(200);
    expect(response.data).toEqual({ outcome: 'duplicate' });
    expect(await channelContact(person.id)).toEqual(before);
  });

  it('never dates a message later than the server clock', async () => {
    const person = newPerson();
    const inAnHour = new Date(t.clock.now().getTime() + 3_600_000);
    await postTelegram(t.app, liveChatId, telegramMessage(person, { text: 'from the future' }, { date: inAnHour }));
    expect((await channelContact(person.id))!.last_inbound_at.getTime()).toBe(t.clock.now().getTime());
  });

  it('stores a text from a person with an open session on it, once, as a received inbound message', async () => {
    const person = newPerson();
    await postTelegram(t.app, liveChatId, telegramMessage(person, { text: '/start' }));
    // Their first message opened a session in the queue; the operator takes it.
    const queue = await call(t.app, 'GET', `/sessions?liveChatId=${liveChatId}&unassigned=true&account=%40${person.username}`);
    expect(queue.data.items).toHaveLength(1);
    const session = queue.data.items[0];
    expect(session).toMatchObject({ origin: 'inbound', operatorId: null, account: `@${person.username!.toLowerCase()}`, status: 'open' });
    expect((await call(t.app, 'POST', `/sessions/${session.id}/assign`, { operatorId })).statusCode).toBe(200);

    const sentAt = new Date(t.clock.now().getTime() - 1_000);
    const reply = telegramMessage(person, { text: 'My order is late' }, { date: sentAt });
    expect((await postTelegram(t.app, liveChatId, reply)).data).toEqual({ outcome: 'processed' });
    expect((await postTelegram(t.app, liveChatId, reply)).data).toEqual({ outcome: 'duplicate' });

    const messages = await call(t.app, 'GET', `/sessions/${session.id}/messages`);
    expect(messages.statusCode).toBe(200);
    const inbound = messages.data.items.filter((m: { direction: string }) => m.direction === 'inbound');
    expect(inbound.map((m: { text: string }) => m.text)).toEqual(['/start', 'My order is late']);
    expect(inbound[1]).toEqual(
      expect.objectContaining({
        sessionId: session.id,
        direction: 'inbound',
        kind: 'text',
        text: 'My order is late',
        status: 'received',
        providerMessageId: `${person.id}:${reply.message.message_id}`,
        createdAt: new Date(unixSeconds(sentAt) * 1000).toISOString(),
      }),
    );
  });

  it('lists a reply after the message it answers, though Telegram stamps it in whole seconds', async () => {
    const person = newPerson();
    await postTelegram(t.app, liveChatId, telegramMessage(person, { text: '/start' }, { date: new Date(t.clock.now().getTime() - 60_000) }));
    await dismissQueue(t.app, liveChatId);
    const session = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Ann' }, account: `@${person.username}`, message: { text: 'Hello' } });
    expect(session.statusCode, session.body).toBe(201);
    // The reply's `date` is earlier than the outbound message's time (seconds, and a skewed clock).
    await postTelegram(t.app, liveChatId, telegramMessage(person, { text: 'Hi back' }, { date: new Date(t.clock.now().getTime() - 2_000) }));
    const messages = await call(t.app, 'GET', `/sessions/${session.data.id}/messages`);
    expect(messages.data.items.map((m: { text: string }) => m.text)).toEqual(['Hello', 'Hi back']);
  });

  it('stores a text after the session was closed on a new session in the queue, for the same contact', async () => {
    const person = newPerson();
    await postTelegram(t.app, liveChatId, telegramMessage(person, { text: '/start' }));
    await dismissQueue(t.app, liveChatId);
    const session = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Ann' }, account: `@${person.username}` });
    expect(session.statusCode, session.body).toBe(201);
    expect((await call(t.app, 'POST', `/sessions/${session.data.id}/close`, {})).statusCode).toBe(200);
    await postTelegram(t.app, liveChatId, telegramMessage(person, { text: 'anyone there?' }));

    const closed = await call(t.app, 'GET', `/sessions/${session.data.id}/messages`);
    expect(closed.data.items.filter((m: { direction: string }) => m.direction === 'inbound')).toEqual([]);
    const queue = await call(t.app, 'GET', `/sessions?liveChatId=${liveChatId}&unassigned=true&status=open&contactId=${session.data.contactId}`);
    expect(queue.data.items).toHaveLength(1);
    expect(queue.data.items[0]).toMatchObject({ origin: 'inbound', operatorId: null, contactId: session.data.contactId });
    const reply = await call(t.app, 'GET', `/sessions/${queue.data.items[0].id}/messages`);
    expect(reply.data.items.map((m: { text: string }) => m.text)).toEqual(['anyone there?']);
  });
});
