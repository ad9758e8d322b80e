import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, type TestApp, createTestApp } from '../support/app.js';
import { liveChatWithOperator, newPhone } from '../support/fixtures.js';
import { TELEGRAM_SECRET, WHATSAPP_PHONE_NUMBER_ID, hubSignature } from '../webhooks/providers.js';

// Whatever a client or a provider sends — any JSON, any text, shapes close to the real ones
// with any values in them — the answer is never a 5xx, and every error is problem+json.

const RUNS = { seed: 20_260_517, numRuns: 200 };

/** The assertion of every property: no 5xx; an error is problem+json with its members. */
function expectWellFormed(response: LightMyRequestResponse, sent: unknown): void {
  const context = `${response.statusCode} ${response.body.slice(0, 300)} ← ${JSON.stringify(sent)?.slice(0, 300)}`;
  expect(response.statusCode, context).toBeLessThan(500);
  if (response.statusCode >= 400) {
    expect(response.headers['content-type'], context).toMatch(/^application\/problem\+json/);
    const body = JSON.parse(response.body);
    expect(body, context).toMatchObject({ status: response.statusCode, code: expect.any(String), type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  }
}

// --- Values -------------------------------------------------------------------------------

const anyJson = fc.jsonValue({ maxDepth: 4 });
/** Text that is mostly not JSON, as a body sent with Content-Type: application/json. */
const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ maxLength: 50 }).map((s) => `{"a":${s}`));
/** Strings with the characters that trip parsers and databases up: NUL, lone surrogates, RTL marks, long runs. */
const nastyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'binary-ascii', maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '\ud800', '\u202e+49', '%00', '\\u0000', 'x'.repeat(5000), '💬'.repeat(300)),
);
const anyValue = fc.oneof(anyJson, nastyString);
const uuid = fc.uuid();
const phoneLike = fc.oneof(
  fc.constant('+4915123456789'),
  fc.constantFrom('4915123456789', '+1 (650) 555-1234', '+44 20 7946 0958', '+0000', '+', '+999999999999999999'),
  fc.stringMatching(/^\+?[0-9 ().-]{0,22}$/),
  nastyString,
);
const emailLike = fc.oneof(fc.emailAddress(), fc.constantFrom('ann@example.com', 'Ann@EXAMPLE.com', 'a@b', '@', 'a@@b.c'), nastyString);
const accountLike = fc.oneof(phoneLike, emailLike, fc.stringMatching(/^@[A-Za-z0-9_]{0,40}$/));
/** An object with some of the given fields, each either a plausible or any value. */
const partial = <T extends Record<string, fc.Arbitrary<unknown>>>(fields: T) =>
  fc.record(Object.fromEntries(Object.entries(fields).map(([k, a]) => [k, fc.oneof({ weight: 4, arbitrary: a }, { weight: 1, arbitrary: anyValue })])) as T, {
    requiredKeys: [],
  });

const contactShape = partial({ name: nastyString, phones: fc.array(phoneLike, { maxLength: 3 }), emails: fc.array(emailLike, { maxLength: 3 }) });
const validPhone = fc.integer({ min: 0, max: 99_999_999 }).map((n) => `+49151${String(n).padStart(8, '0')}`);
const text = fc.oneof({ weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 60 }) }, { weight: 1, arbitrary: nastyString });
const validContact = fc.record(
  { name: text, phones: fc.array(fc.oneof({ weight: 5, arbitrary: validPhone }, { weight: 1, arbitrary: phoneLike }), { maxLength: 2 }), emails: fc.array(emailLike, { maxLength: 2 }) },
  { requiredKeys: ['name'] },
);
const validMessage = fc.oneof(
  fc.record({ text }),
  fc.record({ template: fc.record({ name: fc.constantFrom('hello_world', 'order_update'), language: fc.constantFrom('en_US', 'de'), parameters: fc.array(text, { maxLength: 2 }) }, { requiredKeys: ['name', 'language'] }) }),
);
const messageShape = fc.oneof(
  partial({ text: nastyString }),
  partial({ template: partial({ name: nastyString, language: fc.constantFrom('en_US', 'de', ''), parameters: fc.array(nastyString, { maxLength: 3 }) }) }),
);

// --- The app ------------------------------------------------------------------------------

let t: TestApp;
let whatsapp: { liveChatId: string; operatorId: string };
let telegram: { liveChatId: string; operatorId: string };
let email: { liveChatId: string; operatorId: string };
let contactId: string;

beforeAll(async () => {
  t = await createTestApp();
  whatsapp = await liveChatWithOperator(t.app, 'whatsapp');
  telegram = await liveChatWithOperator(t.app, 'telegram');
  email = await liveChatWithOperator(t.app, 'email');
  const contact = await t.app.inject({ method: 'POST', url: '/contacts', headers: { authorization: `Bearer ${ADMIN_KEY}` }, payload: { name: 'Known', phones: [newPhone()] } });
  contactId = contact.json().id;
});
afterAll(() => t.close());

/** Sends `body` (a string as its exact bytes, anything else as JSON). */
function send(url: string, body: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  return t.app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', ...headers },
    payload: payload as InjectOptions['payload'],
  });
}

/**
 * Bodies for one route: any JSON, any text, the route's shape with any values in it, and
 * bodies that are valid but for a detail, which get past validation into the rules and the SQL.
 */
const bodiesFor = (shaped: fc.Arbitrary<unknown>, nearlyValid: fc.Arbitrary<unknown>) =>
  fc.oneof({ weight: 1, arbitrary: anyJson }, { weight: 1, arbitrary: anyText }, { weight: 2, arbitrary: shaped }, { weight: 4, arbitrary: nearlyValid });

// --- The routes ---------------------------------------------------------------------------

it('refuses text with U+0000, which Postgres cannot store, as 400 validation_failed (not a 500)', async () => {
  const response = await send('/contacts', { name: 'Ann\u0000' });
  expectWellFormed(response, 'Ann\u0000');
  expect(response.statusCode).toBe(400);
  expect(JSON.parse(response.body)).toMatchObject({ code: 'validation_failed', errors: [{ field: '/name', code: 'invalid_character' }] });
});

describe('property: arbitrary input never yields a 5xx, and every error is problem+json', () => {
  it('POST /sessions', async () => {
    const chatId = fc.oneof(
      fc.constantFrom(() => whatsapp.liveChatId, () => telegram.liveChatId, () => email.liveChatId).map((f) => f()),
      uuid,
      nastyString,
    );
    const body = partial({
      liveChatId: chatId,
      operatorId: fc.oneof(fc.constantFrom(() => whatsapp.operatorId, () => email.operatorId).map((f) => f()), nastyString),
      contactId: fc.oneof(fc.constant(null).map(() => contactId), uuid),
      contact: contactShape,
      account: accountLike,
      message: messageShape,
    });
    const chat = fc.constantFrom(() => whatsapp, () => telegram, () => email).map((f) => f());
    const nearlyValid = fc
      .record({
        chat,
        ownOperator: fc.integer({ min: 0, max: 9 }).map((n) => n > 0),
        person: fc.oneof(fc.constant(null).map(() => ({ contactId })), validContact.map((contact) => ({ contact }))),
        account: fc.option(fc.oneof(validPhone, fc.emailAddress(), fc.constantFrom('@ann_user', '@x'), accountLike), { nil: undefined }),
        message: fc.option(validMessage, { nil: undefined }),
      })
      .map(({ chat: c, ownOperator, person, account, message }) => ({
        liveChatId: c.liveChatId,
        operatorId: ownOperator ? c.operatorId : 'op-not-assigned',
        ...person,
        ...(account !== undefined ? { account } : {}),
        ...(message !== undefined ? { message } : {}),
      }));
    await fc.assert(
      fc.asyncProperty(bodiesFor(body, nearlyValid), async (sent) => expectWellFormed(await send('/sessions', sent), sent)),
      RUNS,
    );
  });

  it('POST /live-chats', async () => {
    const channel = fc.oneof(
      partial({ type: fc.constant('whatsapp'), phoneNumberId: nastyString, accessToken: nastyString, appSecret: nastyString, verifyToken: nastyString }),
      partial({ type: fc.constant('telegram'), botToken: nastyString, webhookSecret: nastyString }),
      partial({
        type: fc.constant('email'),
        address: emailLike,
        smtp: partial({ host: nastyString, port: fc.oneof(fc.integer(), fc.double()), secure: fc.boolean(), username: nastyString, password: nastyString }),
      }),
    );
    const body = partial({ name: nastyString, channel });
    const nearlyValid = fc.record({
      name: text,
      channel: fc.oneof(
        fc.record({ type: fc.constant('whatsapp'), phoneNumberId: fc.stringMatching(/^\d{1,20}$/), accessToken: text, appSecret: text, verifyToken: text }, { requiredKeys: ['type', 'phoneNumberId', 'accessToken'] }),
        fc.record({ type: fc.constant('telegram'), botToken: text, webhookSecret: text }, { requiredKeys: ['type', 'botToken'] }),
        fc.record({
          type: fc.constant('email'),
          address: emailLike,
          smtp: fc.record({ host: fc.domain(), port: fc.integer({ min: -1, max: 70_000 }), secure: fc.boolean(), username: text, password: text }, { requiredKeys: ['host', 'port'] }),
        }),
      ),
    });
    await fc.assert(
      fc.asyncProperty(bodiesFor(body, nearlyValid), async (sent) => expectWellFormed(await send('/live-chats', sent), sent)),
      RUNS,
    );
  });

  it('POST /contacts', async () => {
    await fc.assert(
      fc.asyncProperty(bodiesFor(contactShape, validContact), async (sent) => expectWellFormed(await send('/contacts', sent), sent)),
      RUNS,
    );
  });

  it('POST /webhooks/telegram/{liveChatId}, with the right secret', async () => {
    const user = partial({ id: fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.double()), is_bot: fc.boolean(), first_name: nastyString, username: nastyString });
    const update = partial({
      update_id: fc.oneof(fc.nat(), fc.integer(), fc.double()),
      message: partial({
        message_id: fc.oneof(fc.nat(), fc.double()),
        date: fc.oneof(fc.integer(), fc.constant(Math.floor(Date.now() / 1000))),
        chat: partial({ id: fc.oneof(fc.integer(), fc.maxSafeInteger()), type: fc.constantFrom('private', 'group', 'channel') }),
        from: user,
        text: nastyString,
        contact: partial({ phone_number: phoneLike, first_name: nastyString, user_id: fc.integer() }),
      }),
    });
    const person = fc.record({ id: fc.integer({ min: 1, max: 2 ** 40 }), username: fc.option(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{4,31}$/), { nil: undefined }) });
    const nearlyValid = fc
      .record({
        update_id: fc.nat(),
        person,
        date: fc.integer({ min: 0, max: 2 ** 31 }),
        content: fc.oneof(fc.record({ text }), fc.record({ contact: fc.record({ phone_number: fc.oneof(validPhone, validPhone.map((p) => p.slice(1)), phoneLike), user_id: fc.integer() }) })),
        chatType: fc.constantFrom('private', 'private', 'group'),
      })
      .map(({ update_id, person: p, date, content, chatType }) => ({
        update_id,
        message: {
          message_id: update_id % 1000,
          from: { id: p.id, is_bot: false, first_name: 'Ann', ...(p.username ? { username: p.username } : {}) },
          chat: { id: p.id, type: chatType },
          date,
          ...('contact' in content ? { contact: { ...content.contact, first_name: 'Ann', user_id: content.contact.user_id % 2 === 0 ? p.id : content.contact.user_id } } : content),
        },
      }));
    await fc.assert(
      fc.asyncProperty(bodiesFor(update, nearlyValid), async (sent) =>
        expectWellFormed(await send(`/webhooks/telegram/${telegram.liveChatId}`, sent, { 'x-telegram-bot-api-secret-token': TELEGRAM_SECRET }), sent),
      ),
      RUNS,
    );
  });

  it('POST /webhooks/whatsapp/{liveChatId}, validly signed, so the parser really sees the body', async () => {
    const inbound = partial({
      from: fc.oneof(fc.stringMatching(/^\d{6,15}$/), nastyString),
      id: nastyString,
      timestamp: fc.oneof(fc.integer().map(String), nastyString),
      type: fc.constantFrom('text', 'button', 'image'),
      text: partial({ body: nastyString }),
      button: partial({ text: nastyString }),
    });
    const status = partial({
      id: nastyString,
      status: fc.oneof(fc.constantFrom('sent', 'delivered', 'read', 'failed'), nastyString),
      timestamp: fc.oneof(fc.integer().map(String), nastyString),
      recipient_id: nastyString,
      errors: fc.array(partial({ code: fc.integer(), title: nastyString, message: nastyString, error_data: partial({ details: nastyString }) }), { maxLength: 2 }),
    });
    const change = partial({
      field: fc.oneof(fc.constant('messages'), nastyString),
      value: partial({
        metadata: partial({ phone_number_id: fc.oneof(fc.constant(WHATSAPP_PHONE_NUMBER_ID), nastyString), display_phone_number: nastyString }),
        messages: fc.array(inbound, { maxLength: 3 }),
        statuses: fc.array(status, { maxLength: 3 }),
      }),
    });
    const notification = partial({
      object: fc.constantFrom('whatsapp_business_account', 'page'),
      entry: fc.array(partial({ id: nastyString, changes: fc.array(change, { maxLength: 3 }) }), { maxLength: 3 }),
    });
    const waId = fc.integer({ min: 0, max: 99_999_999 }).map((n) => `49151${String(n).padStart(8, '0')}`);
    const timestamp = fc.integer({ min: 0, max: 2 ** 32 }).map(String);
    const nearlyValid = fc
      .record({
        messages: fc.array(fc.record({ from: waId, id: fc.string({ minLength: 1, maxLength: 40 }).map((x) => `wamid.${x}`), timestamp, type: fc.constant('text'), text: fc.record({ body: text }) }), { maxLength: 3 }),
        statuses: fc.array(
          fc.record(
            { id: fc.string({ maxLength: 40 }).map((x) => `wamid.${x}`), status: fc.constantFrom('sent', 'delivered', 'read', 'failed', 'deleted'), timestamp, recipient_id: waId, errors: fc.array(fc.record({ code: fc.integer(), title: text }), { maxLength: 1 }) },
            { requiredKeys: ['id', 'status', 'timestamp'] },
          ),
          { maxLength: 3 },
        ),
      })
      .map((value) => ({
        object: 'whatsapp_business_account',
        entry: [{ id: 'WABA', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { phone_number_id: WHATSAPP_PHONE_NUMBER_ID }, ...value } }] }],
      }));
    await fc.assert(
      fc.asyncProperty(bodiesFor(notification, nearlyValid), async (sent) => {
        const raw = typeof sent === 'string' ? sent : JSON.stringify(sent);
        expectWellFormed(await send(`/webhooks/whatsapp/${whatsapp.liveChatId}`, raw, { 'x-hub-signature-256': hubSignature(raw) }), sent);
      }),
      RUNS,
    );
  });

  it('the webhooks, unsigned or wrongly signed, with any body and any live chat id in the path', async () => {
    const target = fc.oneof(
      fc.constantFrom(() => `/webhooks/whatsapp/${whatsapp.liveChatId}`, () => `/webhooks/telegram/${telegram.liveChatId}`).map((f) => f()),
      fc
        .tuple(fc.constantFrom('whatsapp', 'telegram'), fc.oneof(uuid, nastyString.map((id) => encodeURIComponent(id.replace(/[\ud800-\udfff]/g, '\ufffd'))), fc.constantFrom('%', '%00', '%E0%A4%A', '..', '%2F', 'x'.repeat(300))))
        .map(([kind, id]) => `/webhooks/${kind}/${id}`),
    );
    const headers = fc.record(
      { 'x-hub-signature-256': fc.oneof(nastyString.map((s) => `sha256=${s}`), fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 }).map((h) => `sha256=${h}`)), 'x-telegram-bot-api-secret-token': fc.string({ unit: 'binary-ascii' }).map((s) => s.replace(/[^\x20-\x7e]/g, '')) },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(target, fc.oneof(anyJson, anyText), headers, async (url, sent, extra) => expectWellFormed(await send(url, sent, extra), { url, sent, extra })),
      RUNS,
    );
  });
});
