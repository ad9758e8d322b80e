import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { type ChannelKind, liveChatWithOperator, newPhone, personWrote } from '../support/fixtures.js';
import { expectFieldError, expectProblem } from '../support/problems.js';

const HOUR = 60 * 60 * 1000;

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const initiate = (body: Record<string, unknown>) => call(t.app, 'POST', '/sessions', body);
const chat = (kind: ChannelKind) => liveChatWithOperator(t.app, kind);
const db = () => t.database.handle.db;

async function contactsWithPhone(phone: string): Promise<unknown[]> {
  const found = await call(t.app, 'GET', `/contacts?phone=${encodeURIComponent(phone)}`);
  expect(found.statusCode, found.body).toBe(200);
  return found.data.items;
}

async function createContact(body: Record<string, unknown>): Promise<{ id: string; phones: string[]; emails: string[] }> {
  const created = await call(t.app, 'POST', '/contacts', body);
  expect(created.statusCode, created.body).toBe(201);
  return created.data;
}

async function countRows(table: 'messages' | 'contacts' | 'sessions'): Promise<number> {
  const row = await db().selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

const template = { name: 'welcome_back', language: 'en_US', parameters: ['Ann'] };

describe('POST /sessions: formats (check 1)', () => {
  it('refuses a phone number without + on /account with a message that shows the + form', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: '49 151 23456789', message: { template } });
    const error = expectFieldError(response, '/account', 'invalid_phone_number');
    expect(error.message).toContain('+4915123456789');
  });

  it('refuses an impossible phone number', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const tooShort = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: '+49 1', message: { template } });
    expectFieldError(tooShort, '/account', 'invalid_phone_number');
    const noSuchCountry = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: '+999 123456', message: { template } });
    expectFieldError(noSuchCountry, '/account', 'invalid_phone_number');
  });

  it('refuses a malformed email address as the account', async () => {
    const { liveChatId, operatorId } = await chat('email');
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: 'ann@example', message: { text: 'Hi' } });
    expectFieldError(response, '/account', 'invalid_email');
  });

  it('refuses a malformed @username', async () => {
    const { liveChatId, operatorId } = await chat('telegram');
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: '@ab', message: { text: 'Hi' } });
    expectFieldError(response, '/account', 'invalid_username');
  });

  it('points at the inline contact’s phone and email that are malformed', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const response = await initiate({
      liveChatId,
      operatorId,
      contact: { name: 'Ann', phones: ['0151 23456789', '+4915123456789'], emails: ['ann@example.com', 'not-an-address'] },
      message: { template },
    });
    expectFieldError(response, '/contact/phones/0', 'invalid_phone_number');
    expectFieldError(response, '/contact/emails/1', 'invalid_email');
    expect(response.data.errors).toHaveLength(2);
  });

  it('reports every format problem at once, each with a JSON Pointer', async () => {
    const response = await initiate({ liveChatId: 'nope', contact: { name: '' }, colour: 'red', message: { text: 'x'.repeat(4097) } });
    expectFieldError(response, '/liveChatId', 'invalid_uuid');
    expectFieldError(response, '/operatorId', 'required');
    expectFieldError(response, '/contact/name', 'too_short');
    expectFieldError(response, '/colour', 'unknown_field');
    expectFieldError(response, '/message/text', 'too_long');
  });

  it('needs exactly one of contactId and contact', async () => {
    const { liveChatId, operatorId } = await chat('email');
    const neither = await initiate({ liveChatId, operatorId, account: 'ann@example.com' });
    expectFieldError(neither, '/contactId', 'contact_choice_required');
    const contact = await createContact({ name: 'Ann', emails: ['ann@example.com'] });
    const both = await initiate({ liveChatId, operatorId, contactId: contact.id, contact: { name: 'Ann' } });
    expectFieldError(both, '/contactId', 'contact_choice_required');
  });

  it('needs exactly one of text and template in the message', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const base = { liveChatId, operatorId, contact: { name: 'Ann' }, account: newPhone() };
    expectFieldError(await initiate({ ...base, message: {} }), '/message', 'message_content_required');
    expectFieldError(await initiate({ ...base, message: { text: 'Hi', template } }), '/message', 'message_content_ambiguous');
  });

  it('refuses a template with a malformed name or language', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const response = await initiate({
      liveChatId,
      operatorId,
      contact: { name: 'Ann' },
      account: newPhone(),
      message: { template: { name: 'Welcome Back', language: 'english' } },
    });
    expectFieldError(response, '/message/template/name', 'invalid_format');
    expectFieldError(response, '/message/template/language', 'invalid_format');
  });
});

describe('POST /sessions: live chat, operator and contact (checks 2–4)', () => {
  it('answers 404 live_chat_not_found for an unknown live chat', async () => {
    const response = await initiate({ liveChatId: randomUUID(), operatorId: 'op-1', contact: { name: 'Ann' }, account: newPhone() });
    expectProblem(response, 404, 'live_chat_not_found');
  });

  it('answers 403 operator_not_assigned for an operator not assigned to the live chat', async () => {
    const { liveChatId } = await chat('whatsapp');
    const response = await initiate({ liveChatId, operatorId: 'op-stranger', contact: { name: 'Ann' }, account: newPhone(), message: { template } });
    expectProblem(response, 403, 'operator_not_assigned');
  });

  it('refuses an operator once removed from the live chat', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    expect((await call(t.app, 'DELETE', `/live-chats/${liveChatId}/operators/${operatorId}`)).statusCode).toBe(204);
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: newPhone(), message: { template } });
    expectProblem(response, 403, 'operator_not_assigned');
  });

  it('answers 404 contact_not_found for an unknown contactId', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const response = await initiate({ liveChatId, operatorId, contactId: randomUUID(), account: newPhone(), message: { template } });
    expectProblem(response, 404, 'contact_not_found');
  });
});

describe('POST /sessions: the account (check 5)', () => {
  it.each([
    ['whatsapp', '@ann_smith'],
    ['email', '@ann_smith'],
    ['whatsapp', 'ann@example.com'],
    ['telegram', 'ann@example.com'],
    ['email', '+4915123456789'],
  ] as const)('refuses on %s an account like %s with 422 account_channel_mismatch', async (kind, account) => {
    const { liveChatId, operatorId } = await chat(kind);
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account });
    expectProblem(response, 422, 'account_channel_mismatch');
  });

  it('answers 422 account_required when the account is omitted and the contact has no phone', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const contact = await createContact({ name: 'Ann', emails: ['ann@example.com'] });
    expectProblem(await initiate({ liveChatId, operatorId, contactId: contact.id, message: { template } }), 422, 'account_required');
  });

  it('answers 422 account_required when the account is omitted and the contact has several phones', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann', phones: [newPhone(), newPhone()] }, message: { template } });
    expectProblem(response, 422, 'account_required');
  });

  it('answers 422 account_required on an inbox when the contact has no email or several', async () => {
    const { liveChatId, operatorId } = await chat('email');
    const none = await initiate({ liveChatId, operatorId, contact: { name: 'Ann', phones: [newPhone()] } });
    expectProblem(none, 422, 'account_required');
    const several = await initiate({ liveChatId, operatorId, contact: { name: 'Ann', emails: ['a@example.com', 'b@example.com'] } });
    expectProblem(several, 422, 'account_required');
  });

  it('uses the contact’s only phone on a messenger and its only email on an inbox', async () => {
    const phone = newPhone();
    const whatsapp = await chat('whatsapp');
    const byPhone = await initiate({ ...pick(whatsapp), contact: { name: 'Ann', phones: [phone], emails: ['a@example.com', 'b@example.com'] }, message: { template } });
    expect(byPhone.statusCode, byPhone.body).toBe(201);
    expect(byPhone.data.account).toBe(phone);

    const email = await chat('email');
    const byEmail = await initiate({ ...pick(email), contact: { name: 'Ann', phones: [newPhone(), newPhone()], emails: ['Ann@Example.COM'] } });
    expect(byEmail.statusCode, byEmail.body).toBe(201);
    expect(byEmail.data.account).toBe('Ann@example.com');
  });

  it('stores a formatted phone account in E.164', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const phone = newPhone();
    const formatted = `${phone.slice(0, 3)} (${phone.slice(3, 6)}) ${phone.slice(6, 9)}-${phone.slice(9, 12)}.${phone.slice(12)}`;
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: formatted, message: { template } });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.data.account).toBe(phone);
  });

  it('adds an account the existing contact lacks to the contact', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const known = newPhone();
    const added = newPhone();
    const contact = await createContact({ name: 'Ann', phones: [known] });
    const response = await initiate({ liveChatId, operatorId, contactId: contact.id, account: added, message: { template } });
    expect(response.statusCode, response.body).toBe(201);
    const after = await call(t.app, 'GET', `/contacts/${contact.id}`);
    expect(after.data.phones).toEqual([known, added]);
  });

  it('adds the account to an inline contact, and does not repeat one it has in another format', async () => {
    const email = await chat('email');
    const phone = newPhone();
    const response = await initiate({ ...pick(email), contact: { name: 'Ann', phones: [phone], emails: ['ann@example.com'] }, account: 'ann@EXAMPLE.com' });
    expect(response.statusCode, response.body).toBe(201);
    const contact = await call(t.app, 'GET', `/contacts/${response.data.contactId}`);
    expect(contact.data).toMatchObject({ name: 'Ann', phones: [phone], emails: ['ann@example.com'] });

    const whatsapp = await chat('whatsapp');
    const other = newPhone();
    const second = await initiate({ ...pick(whatsapp), contact: { name: 'Bob', phones: [phone] }, account: other, message: { template } });
    expect(second.statusCode, second.body).toBe(201);
    expect((await call(t.app, 'GET', `/contacts/${second.data.contactId}`)).data.phones).toEqual([phone, other]);
  });

  it.each(['telegram', 'email'] as const)('answers 422 template_not_supported for a template on %s', async (kind) => {
    const { liveChatId, operatorId } = await chat(kind);
    const account = kind === 'email' ? 'ann@example.com' : '@ann_smith';
    if (kind === 'telegram') await personWrote(db(), liveChatId, { externalUserId: '1001', username: 'ann_smith' }, t.clock.now());
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account, message: { template } });
    expectProblem(response, 422, 'template_not_supported');
  });
});

describe('POST /sessions: Telegram needs prior contact (check 6)', () => {
  it('refuses a person who has not written to the bot', async () => {
    const { liveChatId, operatorId } = await chat('telegram');
    const byPhone = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: newPhone(), message: { text: 'Hi' } });
    expectProblem(byPhone, 422, 'telegram_no_prior_contact');
    const byName = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: '@never_wrote', message: { text: 'Hi' } });
    expectProblem(byName, 422, 'telegram_no_prior_contact');
  });

  it('accepts a phone only once the person has shared it with the bot', async () => {
    const { liveChatId, operatorId } = await chat('telegram');
    const phone = newPhone();
    const body = { liveChatId, operatorId, contact: { name: 'Ann' }, account: phone, message: { text: 'Hi' } };
    await personWrote(db(), liveChatId, { externalUserId: '2001', chatId: '2001', username: 'ann_2001' }, t.clock.now());
    expectProblem(await initiate(body), 422, 'telegram_no_prior_contact');

    await personWrote(db(), liveChatId, { externalUserId: '2001', phone }, t.clock.now());
    const response = await initiate(body);
    expect(response.statusCode, response.body).toBe(201);
    expect(response.data).toMatchObject({ channel: 'telegram', account: phone });
  });

  it('does not take a Telegram user id that happens to equal the number’s digits for a shared phone', async () => {
    const { liveChatId, operatorId } = await chat('telegram');
    const phone = '+3546123456';
    await personWrote(db(), liveChatId, { externalUserId: phone.slice(1) }, t.clock.now());
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: phone, message: { text: 'Hi' } });
    expectProblem(response, 422, 'telegram_no_prior_contact');
  });

  it('accepts the @username of a person who wrote, whatever its case', async () => {
    const { liveChatId, operatorId } = await chat('telegram');
    await personWrote(db(), liveChatId, { externalUserId: '3001', chatId: '3001', username: 'Ann_Smith' }, t.clock.now());
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: '@ANN_smith', message: { text: 'Hi' } });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.data.account).toBe('@ann_smith');
  });

  it('counts only people who wrote to this bot, not to another live chat', async () => {
    const other = await chat('telegram');
    await personWrote(db(), other.liveChatId, { externalUserId: '4001', username: 'elsewhere' }, t.clock.now());
    const { liveChatId, operatorId } = await chat('telegram');
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: '@elsewhere', message: { text: 'Hi' } });
    expectProblem(response, 422, 'telegram_no_prior_contact');
  });
});

describe('POST /sessions: the WhatsApp 24-hour window (check 7)', () => {
  it('refuses a free-text first message to a person who never wrote', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: newPhone(), message: { text: 'Hi' } });
    expectProblem(response, 422, 'whatsapp_template_required');
  });

  it('allows free text within 24 hours of the person’s last message and refuses it after', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const inWindow = newPhone();
    const outOfWindow = newPhone();
    await personWrote(db(), liveChatId, { externalUserId: inWindow.slice(1) }, t.clock.now());
    await personWrote(db(), liveChatId, { externalUserId: outOfWindow.slice(1) }, t.clock.now());
    t.clock.advance(23 * HOUR + 59 * 60 * 1000);
    const allowed = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: inWindow, message: { text: 'Hi' } });
    expect(allowed.statusCode, allowed.body).toBe(201);

    t.clock.advance(2 * 60 * 1000);
    const refused = await initiate({ liveChatId, operatorId, contact: { name: 'Bob' }, account: outOfWindow, message: { text: 'Hi' } });
    expectProblem(refused, 422, 'whatsapp_template_required');
  });

  it('always allows a template, and a session without a first message', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const withTemplate = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: newPhone(), message: { template } });
    expect(withTemplate.statusCode, withTemplate.body).toBe(201);
    const withoutMessage = await initiate({ liveChatId, operatorId, contact: { name: 'Bob' }, account: newPhone() });
    expect(withoutMessage.statusCode, withoutMessage.body).toBe(201);
  });
});

describe('POST /sessions: one open session per person (check 8)', () => {
  it('refuses a second open session with the same account, naming the open one', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const phone = newPhone();
    const first = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: phone, message: { template } });
    expect(first.statusCode, first.body).toBe(201);
    const second = await initiate({ liveChatId, operatorId, contact: { name: 'Ann again' }, account: phone, message: { template } });
    const problem = expectProblem(second, 409, 'session_already_open');
    expect(problem.existingSessionId).toBe(first.data.id);
  });

  it('refuses a second open session with the same contact through another account', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const contact = await createContact({ name: 'Ann', phones: [newPhone()] });
    const first = await initiate({ liveChatId, operatorId, contactId: contact.id, message: { template } });
    expect(first.statusCode, first.body).toBe(201);
    const second = await initiate({ liveChatId, operatorId, contactId: contact.id, account: newPhone(), message: { template } });
    expect(expectProblem(second, 409, 'session_already_open').existingSessionId).toBe(first.data.id);
  });

  it('treats a Telegram person reached by phone and by @username as one person', async () => {
    const { liveChatId, operatorId } = await chat('telegram');
    const phone = newPhone();
    await personWrote(db(), liveChatId, { externalUserId: '5001', chatId: '5001', username: 'ann_5001', phone }, t.clock.now());
    const first = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: phone, message: { text: 'Hi' } });
    expect(first.statusCode, first.body).toBe(201);
    const second = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: '@ann_5001', message: { text: 'Hi' } });
    expect(expectProblem(second, 409, 'session_already_open').existingSessionId).toBe(first.data.id);
  });

  it('treats an address whose domain differs only in case as the same person', async () => {
    const { liveChatId, operatorId } = await chat('email');
    const first = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: 'ann@example.org' });
    expect(first.statusCode, first.body).toBe(201);
    const second = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: 'ann@EXAMPLE.ORG' });
    expect(expectProblem(second, 409, 'session_already_open').existingSessionId).toBe(first.data.id);
  });

  it('allows the same person on another live chat, and again once the first session is closed', async () => {
    const a = await chat('email');
    const b = await chat('email');
    const body = { contact: { name: 'Ann' }, account: 'ann@example.net' };
    const first = await initiate({ ...pick(a), ...body });
    expect(first.statusCode, first.body).toBe(201);
    expect((await initiate({ ...pick(b), ...body })).statusCode).toBe(201);
    expect((await call(t.app, 'POST', `/sessions/${first.data.id}/close`, {})).statusCode).toBe(200);
    const again = await initiate({ ...pick(a), ...body });
    expect(again.statusCode, again.body).toBe(201);
    expect(again.data.id).not.toBe(first.data.id);
  });
});

describe('POST /sessions: the order of the checks', () => {
  it('reports a format error (1) before an unknown live chat (2)', async () => {
    const response = await initiate({ liveChatId: randomUUID(), operatorId: 'op-1', contact: { name: 'Ann' }, account: '4915123456789' });
    expectFieldError(response, '/account', 'invalid_phone_number');
  });

  it('reports an unassigned operator (3) before an unknown contact (4)', async () => {
    const { liveChatId } = await chat('whatsapp');
    expectProblem(await initiate({ liveChatId, operatorId: 'op-stranger', contactId: randomUUID() }), 403, 'operator_not_assigned');
  });

  it('reports an unassigned operator (3) before an account that does not fit (5)', async () => {
    const { liveChatId } = await chat('whatsapp');
    const response = await initiate({ liveChatId, operatorId: 'op-stranger', contact: { name: 'Ann' }, account: 'ann@example.com' });
    expectProblem(response, 403, 'operator_not_assigned');
  });

  it('reports an unknown contact (4) before an account that does not fit (5)', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    expectProblem(await initiate({ liveChatId, operatorId, contactId: randomUUID(), account: '@ann_smith' }), 404, 'contact_not_found');
  });

  it('reports an unknown contact (4) before a person who never wrote to the bot (6)', async () => {
    const { liveChatId, operatorId } = await chat('telegram');
    const response = await initiate({ liveChatId, operatorId, contactId: randomUUID(), account: '@never_wrote', message: { text: 'Hi' } });
    expectProblem(response, 404, 'contact_not_found');
  });

  it('reports an account that does not fit (5) before the Telegram rule (6) and the WhatsApp rule (7)', async () => {
    const telegram = await chat('telegram');
    expectProblem(await initiate({ ...pick(telegram), contact: { name: 'Ann' }, account: 'ann@example.com', message: { text: 'Hi' } }), 422, 'account_channel_mismatch');
    const whatsapp = await chat('whatsapp');
    expectProblem(await initiate({ ...pick(whatsapp), contact: { name: 'Ann' }, account: '@ann_smith', message: { text: 'Hi' } }), 422, 'account_channel_mismatch');
  });

  it('reports the Telegram rule (6) before an open session with the same contact (8)', async () => {
    const { liveChatId, operatorId } = await chat('telegram');
    await personWrote(db(), liveChatId, { externalUserId: '6001', username: 'ann_6001' }, t.clock.now());
    const first = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: '@ann_6001', message: { text: 'Hi' } });
    expect(first.statusCode, first.body).toBe(201);
    const response = await initiate({ liveChatId, operatorId, contactId: first.data.contactId, account: '@ann_other', message: { text: 'Hi' } });
    expectProblem(response, 422, 'telegram_no_prior_contact');
  });

  it('reports the WhatsApp rule (7) before an open session with the same person (8)', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const phone = newPhone();
    expect((await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: phone, message: { template } })).statusCode).toBe(201);
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: phone, message: { text: 'Hi' } });
    expectProblem(response, 422, 'whatsapp_template_required');
  });
});

describe('POST /sessions: the created session (check 9)', () => {
  it('answers 201 with Location and the session, open and assigned to the operator', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const phone = newPhone();
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann', phones: [phone] }, message: { template } });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.headers.location).toBe(`/sessions/${response.data.id}`);
    expect(response.data).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      liveChatId,
      channel: 'whatsapp',
      contactId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      account: phone,
      operatorId,
      origin: 'operator',
      status: 'open',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
      updatedAt: expect.any(String),
      closedAt: null,
    });
    const fetched = await call(t.app, 'GET', response.headers.location as string);
    expect(fetched.data).toEqual(response.data);
  });

  it('creates the inline contact with normalised details', async () => {
    const { liveChatId, operatorId } = await chat('email');
    const phone = newPhone();
    const response = await initiate({
      liveChatId,
      operatorId,
      contact: { name: 'Ann', phones: [`${phone.slice(0, 3)} ${phone.slice(3)}`], emails: ['Ann@Example.COM'] },
    });
    expect(response.statusCode, response.body).toBe(201);
    const contact = await call(t.app, 'GET', `/contacts/${response.data.contactId}`);
    expect(contact.data).toMatchObject({ id: response.data.contactId, name: 'Ann', phones: [phone], emails: ['Ann@example.com'] });
  });

  it('stores the first message, queued for delivery with no attempts yet', async () => {
    const { liveChatId, operatorId } = await chat('email');
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: 'ann@example.com', message: { text: 'Hello!' } });
    expect(response.statusCode, response.body).toBe(201);
    const messages = await call(t.app, 'GET', `/sessions/${response.data.id}/messages`);
    expect(messages.statusCode).toBe(200);
    expect(messages.data.items).toEqual([
      expect.objectContaining({
        sessionId: response.data.id,
        direction: 'outbound',
        text: 'Hello!',
        template: null,
        status: 'queued',
        providerMessageId: null,
        error: null,
        attempts: 0,
      }),
    ]);
  });

  it('stores a template first message as given', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: newPhone(), message: { template } });
    const messages = await call(t.app, 'GET', `/sessions/${response.data.id}/messages`);
    expect(messages.data.items).toEqual([expect.objectContaining({ text: null, template, status: 'queued', attempts: 0 })]);
  });

  it('stores no message when none is given', async () => {
    const { liveChatId, operatorId } = await chat('email');
    const response = await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: 'quiet@example.com' });
    expect((await call(t.app, 'GET', `/sessions/${response.data.id}/messages`)).data.items).toEqual([]);
  });
});

describe('POST /sessions: a refused request changes nothing', () => {
  it('does not keep an inline contact when the session is refused as already open', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const phone = newPhone();
    const extra = newPhone();
    expect((await initiate({ liveChatId, operatorId, contact: { name: 'Ann' }, account: phone, message: { template } })).statusCode).toBe(201);
    const messagesBefore = await countRows('messages');

    const refused = await initiate({ liveChatId, operatorId, contact: { name: 'Ann 2', phones: [phone, extra] }, account: phone, message: { template } });
    expectProblem(refused, 409, 'session_already_open');
    expect(await contactsWithPhone(phone)).toHaveLength(1);
    expect(await contactsWithPhone(extra)).toHaveLength(0);
    expect(await countRows('messages')).toBe(messagesBefore);
  });

  it('does not keep an inline contact when a channel rule refuses', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const phone = newPhone();
    const contactsBefore = await countRows('contacts');
    expectProblem(await initiate({ liveChatId, operatorId, contact: { name: 'Ann', phones: [phone] }, message: { text: 'Hi' } }), 422, 'whatsapp_template_required');
    expect(await contactsWithPhone(phone)).toHaveLength(0);
    expect(await countRows('contacts')).toBe(contactsBefore);
  });

  it('does not add the account to an existing contact when the session is refused', async () => {
    const { liveChatId, operatorId } = await chat('whatsapp');
    const known = newPhone();
    const contact = await createContact({ name: 'Ann', phones: [known] });
    expect((await initiate({ liveChatId, operatorId, contactId: contact.id, message: { template } })).statusCode).toBe(201);
    const other = newPhone();
    expectProblem(await initiate({ liveChatId, operatorId, contactId: contact.id, account: other, message: { template } }), 409, 'session_already_open');
    expect((await call(t.app, 'GET', `/contacts/${contact.id}`)).data.phones).toEqual([known]);
  });
});

function pick(c: { liveChatId: string; operatorId: string }) {
  return { liveChatId: c.liveChatId, operatorId: c.operatorId };
}
