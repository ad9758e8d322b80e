import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChannelContactByExternalId } from '../../src/channel-contacts/repository.js';
import { isValidHubSignature, secretsMatch } from '../../src/webhooks/signature.js';
import { type TestApp, createTestApp } from '../support/app.js';
import { liveChatWithOperator } from '../support/fixtures.js';
import { expectFieldError, expectProblem } from '../support/problems.js';
import { WHATSAPP_VERIFY_TOKEN, hubSignature, postWhatsApp, whatsappChange, whatsappNotification, whatsappText } from './providers.js';

describe('WhatsApp webhook signatures', () => {
  it('computes the provider’s test vector', () => {
    const header = 'sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914';
    expect(isValidHubSignature(Buffer.from('test'), header, 'secret')).toBe(true);
    expect(isValidHubSignature(Buffer.from('test'), header.toUpperCase().replace('SHA256=', 'sha256='), 'secret')).toBe(true);
    expect(isValidHubSignature(Buffer.from('test '), header, 'secret')).toBe(false);
    expect(isValidHubSignature(Buffer.from('test'), header, 'Secret')).toBe(false);
    expect(isValidHubSignature(Buffer.from('test'), header.replace('sha256=', 'sha1='), 'secret')).toBe(false);
    expect(isValidHubSignature(Buffer.from('test'), header.slice(0, -2), 'secret')).toBe(false);
    expect(isValidHubSignature(Buffer.from('test'), undefined, 'secret')).toBe(false);
  });

  it('compares shared secrets exactly', () => {
    expect(secretsMatch('telegram-webhook-secret', 'telegram-webhook-secret')).toBe(true);
    expect(secretsMatch('telegram-webhook-secre', 'telegram-webhook-secret')).toBe(false);
    expect(secretsMatch('', 'telegram-webhook-secret')).toBe(false);
    expect(secretsMatch(undefined, 'telegram-webhook-secret')).toBe(false);
  });
});

describe('POST /webhooks/whatsapp/{liveChatId}: authentication', () => {
  let t: TestApp;
  let liveChatId: string;
  beforeAll(async () => {
    t = await createTestApp();
    ({ liveChatId } = await liveChatWithOperator(t.app, 'whatsapp'));
  });
  afterAll(() => t.close());

  const contact = (waId: string) => findChannelContactByExternalId(t.database.handle.db, liveChatId, waId);

  // Signed as Meta sends it: spacing and \u escapes that JSON.stringify would not reproduce.
  const asSent = (waId: string) =>
    '{"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages", ' +
    '"value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"}, ' +
    `"contacts": [{"profile": {"name": "J\\u00fcrgen"}, "wa_id": "${waId}"}], ` +
    `"messages": [{"from": "${waId}", "id": "wamid.HBgLNDkxNTEyMzQ1Njc4FQIAEhgUM0${waId}", "timestamp": "1739321024", "type": "text", ` +
    '"text": {"body": "Gr\\u00fc\\u00dfe \\ud83d\\udc4b \\/ caf\\u00e9"}}]}}]}]}\n';

  it('accepts a body signed over its exact bytes', async () => {
    const body = asSent('4915100000001');
    const response = await postWhatsApp(t.app, liveChatId, body, { signature: hubSignature(body) });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.data).toEqual({ messages: 1, statuses: 0 });
    expect(await contact('4915100000001')).toMatchObject({ phone: '+4915100000001' });
  });

  it('refuses a signature computed over a re-serialised body', async () => {
    const body = asSent('4915100000002');
    const reserialised = JSON.stringify(JSON.parse(body));
    expect(reserialised).not.toBe(body);
    // The bytes as sent with a signature of their re-serialisation…
    expectProblem(await postWhatsApp(t.app, liveChatId, body, { signature: hubSignature(reserialised) }), 401, 'invalid_signature');
    // …and the re-serialised bytes with the original signature.
    expectProblem(await postWhatsApp(t.app, liveChatId, reserialised, { signature: hubSignature(body) }), 401, 'invalid_signature');
    expect(await contact('4915100000002')).toBeUndefined();
  });

  it('refuses a missing, malformed or wrongly keyed signature with 401 and records nothing', async () => {
    const body = asSent('4915100000003');
    const signatures = [
      null,
      '',
      hubSignature(body).replace('sha256=', ''),
      hubSignature(body).replace('sha256=', 'sha1='),
      hubSignature(body, 'another-app-secret'),
      hubSignature(body, WHATSAPP_VERIFY_TOKEN),
      hubSignature(`${body} `),
    ];
    for (const signature of signatures) {
      const response = await postWhatsApp(t.app, liveChatId, body, { signature });
      expectProblem(response, 401, 'invalid_signature');
      expect(response.headers['www-authenticate']).toBe('HMAC-SHA256 header="X-Hub-Signature-256"');
    }
    expect(await contact('4915100000003')).toBeUndefined();
  });

  it('answers 404 for an unknown live chat, a malformed id and a live chat on another channel', async () => {
    const body = asSent('4915100000004');
    expectProblem(await postWhatsApp(t.app, '3f1c2d9e-5b7a-4c1e-9f0a-123456789abc', body), 404, 'live_chat_not_found');
    expectProblem(await postWhatsApp(t.app, 'not-a-uuid', body), 404, 'live_chat_not_found');
    const telegram = await liveChatWithOperator(t.app, 'telegram');
    expectProblem(await postWhatsApp(t.app, telegram.liveChatId, body), 404, 'live_chat_not_found');
  });

  it('answers 401 on a live chat without an app secret', async () => {
    const { liveChatId: unsecured } = await liveChatWithOperator(t.app, 'whatsapp', { appSecret: undefined });
    const body = JSON.stringify(whatsappNotification([whatsappChange({ messages: [whatsappText('4915100000005', 'hi')] })]));
    expectProblem(await postWhatsApp(t.app, unsecured, body, { signature: hubSignature(body, '') }), 401, 'invalid_signature');
  });

  it('answers 400 invalid_json for a correctly signed body that is not JSON', async () => {
    expectFieldError(await postWhatsApp(t.app, liveChatId, '{"object": "whatsapp_business_account", "entry": ['), '', 'invalid_json');
  });

  it('answers 400 for signed JSON that is not a notification', async () => {
    expectFieldError(await postWhatsApp(t.app, liveChatId, { object: 'whatsapp_business_account' }), '/entry', 'required');
  });
});
