import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator, newPhone } from '../support/fixtures.js';
import { expectFieldError } from '../support/problems.js';

// Phone numbers at the API: valid in their country's plan, a provider's test range, or under
// PHONE_ALLOW_PREFIXES (here +1000, a range the plan does not know).
describe('phone numbers on POST /sessions and POST /contacts', () => {
  let t: TestApp;
  let chat: { liveChatId: string; operatorId: string };
  beforeAll(async () => {
    t = await createTestApp({ config: { phoneAllowPrefixes: ['+1000'] } });
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    chat = { liveChatId, operatorId };
  });
  afterAll(() => t.close());

  const initiate = (account: string) =>
    call(t.app, 'POST', '/sessions', { ...chat, contact: { name: 'Ann' }, account, message: { template: { name: 'hello', language: 'en' } } });

  it('refuses numbers that only have a possible length', async () => {
    for (const account of ['+49 151 23', '+1 202 000 0000']) expectFieldError(await initiate(account), '/account', 'invalid_phone_number');
    expectFieldError(await call(t.app, 'POST', '/contacts', { name: 'Ann', phones: ['+49 151 23'] }), '/phones/0', 'invalid_phone_number');
  });

  it('accepts valid numbers, WhatsApp test numbers and the allowed prefixes', async () => {
    for (const account of [newPhone(), '+1 555 010 0001', '+1 000 000 0000']) {
      const created = await initiate(account);
      expect(created.statusCode, `${account}: ${created.body}`).toBe(201);
    }
  });

  it('hints at the international form of a national number without inventing one', async () => {
    const error = expectFieldError(await initiate('0151 23456789'), '/account', 'invalid_phone_number');
    expect(error.message).toContain('add the country code after + and drop the leading 0 — for a German number, +49 1512 3456789');
    expect(error.message).not.toContain('+0151');
  });

  it('answers 0151 2345678 with the rule for a German number, never +0151…', async () => {
    const error = expectFieldError(await initiate('0151 2345678'), '/account', 'invalid_phone_number');
    expect(error.message).toContain('add the country code after + and drop the leading 0 — for a German number, +49 151 2345678.');
    expect(error.message).not.toContain('+0');
    const contact = expectFieldError(await call(t.app, 'POST', '/contacts', { name: 'Ann', phones: ['0151 2345678'] }), '/phones/0', 'invalid_phone_number');
    expect(contact.message).toBe(error.message);
  });
});

describe('phone numbers without PHONE_ALLOW_PREFIXES', () => {
  let t: TestApp;
  let chat: { liveChatId: string; operatorId: string };
  beforeAll(async () => {
    t = await createTestApp();
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    chat = { liveChatId, operatorId };
  });
  afterAll(() => t.close());

  it('refuses +1 000 000 0000, a number in no plan, and still accepts the WhatsApp test numbers', async () => {
    const initiate = (account: string) =>
      call(t.app, 'POST', '/sessions', { ...chat, contact: { name: 'Ann' }, account, message: { template: { name: 'hello', language: 'en' } } });
    const refused = expectFieldError(await initiate('+1 000 000 0000'), '/account', 'invalid_phone_number');
    expect(refused.message).toContain('not a valid number');
    expectFieldError(await call(t.app, 'POST', '/contacts', { name: 'Ann', phones: ['+1 000 000 0000'] }), '/phones/0', 'invalid_phone_number');
    const created = await initiate('+1 555 010 0002');
    expect(created.statusCode, created.body).toBe(201);
  });
});
