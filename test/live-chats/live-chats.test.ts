import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JsonResponse, type TestApp, call, createTestApp } from '../support/app.js';
import { channels } from '../support/fixtures.js';
import { expectFieldError, expectProblem } from '../support/problems.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

/** Every write-only value the fixtures use; none may leave the service or sit in plain text. */
const SECRETS = ['EAAG-test-access-token', 'whatsapp-app-secret', 'whatsapp-verify-token', 'AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw', 'telegram-webhook-secret', 'smtp-password'];

function expectNoSecrets(response: JsonResponse, extra: string[] = []): void {
  for (const secret of [...SECRETS, ...extra]) expect(response.body).not.toContain(secret);
}

async function create(kind: keyof typeof channels, overrides: Record<string, unknown> = {}): Promise<JsonResponse> {
  const created = await call(t.app, 'POST', '/live-chats', { name: `${kind} desk`, channel: channels[kind](overrides) });
  expect(created.statusCode, created.body).toBe(201);
  return created;
}

async function storedRow(id: string) {
  return t.database.handle.db.selectFrom('live_chats').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

describe('POST /live-chats', () => {
  it('connects a WhatsApp number and shows only its non-secret settings', async () => {
    const created = await create('whatsapp');
    expect(created.headers.location).toBe(`/live-chats/${created.data.id}`);
    expect(created.data).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'whatsapp desk',
      channel: { type: 'whatsapp', phoneNumberId: '106540352242922', businessAccountId: null, appSecretSet: true, verifyTokenSet: true, sendRatePerSecond: 80 },
      secretsReadable: true,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expectNoSecrets(created);
  });

  it('connects a Telegram bot and shows its public bot id only', async () => {
    const created = await create('telegram');
    expect(created.data.channel).toEqual({ type: 'telegram', botId: '123456789', webhookSecretSet: true, sendRatePerSecond: 30 });
    expectNoSecrets(created);
  });

  it('keeps an inbox’s inbound secret write-only and encrypted, and says that one is set', async () => {
    const inboundSecret = 'inbound-secret-write-only-42';
    const created = await create('email', { inboundSecret });
    expect(created.data.channel.inboundSecretSet).toBe(true);
    expectNoSecrets(created, [inboundSecret]);
    expectNoSecrets(await call(t.app, 'GET', `/live-chats/${created.data.id}`), [inboundSecret]);
    expect(JSON.stringify(await storedRow(created.data.id))).not.toContain(inboundSecret);
    expectFieldError(await call(t.app, 'PATCH', `/live-chats/${created.data.id}`, { channel: { inboundSecret: 'short' } }), '/channel/inboundSecret', 'too_short');
  });

  it('generates a Telegram webhook secret when none is given, in Telegram’s alphabet', async () => {
    const created = await create('telegram', { webhookSecret: undefined });
    expect(created.data.channel.webhookSecretSet).toBe(true);
    const chat = await t.app.services.liveChats.get(created.data.id);
    expect(chat.channel.type === 'telegram' && chat.channel.webhookSecret).toMatch(/^[A-Za-z0-9_-]{16,256}$/);
    const other = await t.app.services.liveChats.get((await create('telegram', { webhookSecret: undefined })).data.id);
    expect(other.channel).not.toMatchObject({ webhookSecret: chat.channel.type === 'telegram' ? chat.channel.webhookSecret : '' });
  });

  it('refuses a Telegram webhook secret outside 16–256 of A-Z a-z 0-9 _ -', async () => {
    for (const webhookSecret of ['x', 'a'.repeat(15), 'a'.repeat(257), 'sixteen chars ok?']) {
      const response = await call(t.app, 'POST', '/live-chats', { name: 'bot', channel: channels.telegram({ webhookSecret }) });
      expectFieldError(response, '/channel/webhookSecret', 'invalid_format');
    }
    const created = await create('telegram');
    expectFieldError(await call(t.app, 'PATCH', `/live-chats/${created.data.id}`, { channel: { webhookSecret: 'short' } }), '/channel/webhookSecret', 'invalid_format');
    await create('telegram', { webhookSecret: 'a'.repeat(16) });
    await create('telegram', { webhookSecret: 'A-z_0'.repeat(51) + 'x' });
  });

  it('connects an inbox, lower-casing its domain and securing port 465 by default', async () => {
    const created = await create('email', { address: 'Support@Example.COM', smtp: { host: 'smtp.example.com', port: 465, password: 'smtp-password' } });
    expect(created.data.channel).toEqual({
      type: 'email',
      address: 'Support@example.com',
      smtp: { host: 'smtp.example.com', port: 465, secure: true, allowPlaintext: false, passwordSet: true },
      inboundSecretSet: false,
      sendRatePerSecond: 10,
    });
    expectNoSecrets(created);
    const plain = await create('email', { smtp: { host: 'smtp.example.com', port: 587 } });
    expect(plain.data.channel.smtp).toEqual({ host: 'smtp.example.com', port: 587, secure: false, allowPlaintext: false, passwordSet: false });
  });

  it('refuses a channel with missing or malformed settings, naming the fields', async () => {
    const missing = await call(t.app, 'POST', '/live-chats', { name: 'x', channel: { type: 'whatsapp', phoneNumberId: '1' } });
    expectFieldError(missing, '/channel/accessToken', 'required');
    const badToken = await call(t.app, 'POST', '/live-chats', { name: 'x', channel: { type: 'telegram', botToken: 'not-a-token' } });
    expectFieldError(badToken, '/channel/botToken', 'invalid_format');
    const badAddress = await call(t.app, 'POST', '/live-chats', { name: 'x', channel: channels.email({ address: 'support@' }) });
    expectFieldError(badAddress, '/channel/address', 'invalid_email');
    const unknownType = await call(t.app, 'POST', '/live-chats', { name: 'x', channel: { type: 'fax', number: '1' } });
    expectProblem(unknownType, 400, 'validation_failed');
    expect(JSON.stringify(unknownType.data.errors)).toContain('/channel');
  });

  it('does not echo a secret in a validation error', async () => {
    const response = await call(t.app, 'POST', '/live-chats', { name: '', channel: channels.whatsapp({ phoneNumberId: 'abc' }) });
    expectProblem(response, 400, 'validation_failed');
    expectNoSecrets(response);
  });
});

describe('live chat secrets', () => {
  it('never returns a secret from any live-chat route', async () => {
    const whatsapp = await create('whatsapp');
    const telegram = await create('telegram');
    const email = await create('email');
    const responses = [
      await call(t.app, 'GET', '/live-chats'),
      ...(await Promise.all([whatsapp, telegram, email].map((c) => call(t.app, 'GET', `/live-chats/${c.data.id}`)))),
      await call(t.app, 'PATCH', `/live-chats/${whatsapp.data.id}`, { name: 'renamed', channel: { appSecret: 'rotated-app-secret' } }),
      await call(t.app, 'PATCH', `/live-chats/${email.data.id}`, { channel: { smtp: { password: 'rotated-smtp-password' } } }),
      await call(t.app, 'GET', `/live-chats/${whatsapp.data.id}/operators`),
    ];
    for (const response of responses) {
      expect(response.statusCode, response.body).toBe(200);
      expectNoSecrets(response, ['rotated-app-secret', 'rotated-smtp-password']);
    }
    expect(responses[0]!.data.items.length).toBeGreaterThanOrEqual(3);
  });

  it('stores the secrets encrypted, not in plain text', async () => {
    for (const kind of ['whatsapp', 'telegram', 'email'] as const) {
      const created = await create(kind);
      const row = await storedRow(created.data.id);
      const stored = `${row.channel_secrets} ${JSON.stringify(row.channel_settings)}`;
      for (const secret of SECRETS) expect(stored).not.toContain(secret);
      // Sealed with the first SECRETS_KEY, named by its id.
      expect(row.channel_secrets).toMatch(/^v2\.[0-9a-f]{8}\./);
    }
  });

  it('seals the same secrets differently each time', async () => {
    const a = await storedRow((await create('telegram')).data.id);
    const b = await storedRow((await create('telegram')).data.id);
    expect(a.channel_secrets).not.toBe(b.channel_secrets);
  });
});

describe('PATCH /live-chats/{id}', () => {
  it('changes the given secret and keeps the ones left out', async () => {
    const created = await create('whatsapp');
    const patched = await call(t.app, 'PATCH', `/live-chats/${created.data.id}`, { channel: { accessToken: 'EAAG-new-token' } });
    expect(patched.statusCode, patched.body).toBe(200);
    const chat = await t.app.services.liveChats.get(created.data.id);
    expect(chat.channel).toEqual({
      type: 'whatsapp',
      phoneNumberId: '106540352242922',
      accessToken: 'EAAG-new-token',
      appSecret: 'whatsapp-app-secret',
      verifyToken: 'whatsapp-verify-token',
      sendRatePerSecond: 80,
    });
  });

  it('merges SMTP settings and keeps the password when it is left out', async () => {
    const created = await create('email');
    const patched = await call(t.app, 'PATCH', `/live-chats/${created.data.id}`, { channel: { smtp: { secure: true, allowPlaintext: true } } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.data.channel.smtp).toEqual({ host: '127.0.0.1', port: 2525, secure: true, allowPlaintext: true, username: 'mailer', passwordSet: true });
    const chat = await t.app.services.liveChats.get(created.data.id);
    expect(chat.channel).toMatchObject({ smtp: { host: '127.0.0.1', password: 'smtp-password' } });
  });

  it('renames without touching the channel', async () => {
    const created = await create('telegram');
    const patched = await call(t.app, 'PATCH', `/live-chats/${created.data.id}`, { name: 'Bot desk' });
    expect(patched.data).toMatchObject({ name: 'Bot desk', channel: created.data.channel });
    expect((await t.app.services.liveChats.get(created.data.id)).channel).toEqual({ ...channels.telegram(), botId: '123456789', sendRatePerSecond: 30 });
  });

  it('refuses a change of channel type with 422 channel_type_immutable', async () => {
    const created = await create('whatsapp');
    const response = await call(t.app, 'PATCH', `/live-chats/${created.data.id}`, { channel: { type: 'telegram', botToken: channels.telegram().botToken } });
    expectProblem(response, 422, 'channel_type_immutable');
    expect((await call(t.app, 'GET', `/live-chats/${created.data.id}`)).data.channel.type).toBe('whatsapp');
  });

  it('refuses a field of another channel type, an empty patch and an unknown live chat', async () => {
    const created = await create('whatsapp');
    expectFieldError(await call(t.app, 'PATCH', `/live-chats/${created.data.id}`, { channel: { botToken: channels.telegram().botToken } }), '/channel/botToken', 'unknown_field');
    expectProblem(await call(t.app, 'PATCH', `/live-chats/${created.data.id}`, {}), 400, 'validation_failed');
    expectProblem(await call(t.app, 'PATCH', `/live-chats/${randomUUID()}`, { name: 'x' }), 404, 'live_chat_not_found');
  });
});

describe('GET /live-chats/{id}', () => {
  it('answers 404 live_chat_not_found for an unknown id', async () => {
    expectProblem(await call(t.app, 'GET', `/live-chats/${randomUUID()}`), 404, 'live_chat_not_found');
  });
});

describe('operators', () => {
  it('assigns an operator idempotently, keeping the first assignment time', async () => {
    const { data: chat } = await create('email');
    expect((await call(t.app, 'PUT', `/live-chats/${chat.id}/operators/op-ann`)).statusCode).toBe(204);
    const first = await call(t.app, 'GET', `/live-chats/${chat.id}/operators`);
    expect(first.data).toEqual({ items: [{ operatorId: 'op-ann', assignedAt: expect.any(String) }] });
    const again = await call(t.app, 'PUT', `/live-chats/${chat.id}/operators/op-ann`);
    expect(again.statusCode).toBe(204);
    expect(again.body).toBe('');
    expect((await call(t.app, 'GET', `/live-chats/${chat.id}/operators`)).data).toEqual(first.data);
  });

  it('lists every assigned operator and removes one', async () => {
    const { data: chat } = await create('email');
    for (const op of ['op-a', 'op-b', 'op-c']) await call(t.app, 'PUT', `/live-chats/${chat.id}/operators/${op}`);
    expect((await call(t.app, 'DELETE', `/live-chats/${chat.id}/operators/op-b`)).statusCode).toBe(204);
    const listed = await call(t.app, 'GET', `/live-chats/${chat.id}/operators`);
    expect(listed.data.items.map((o: { operatorId: string }) => o.operatorId).sort()).toEqual(['op-a', 'op-c']);
    expect((await call(t.app, 'DELETE', `/live-chats/${chat.id}/operators/op-b`)).statusCode).toBe(204);
  });

  it('keeps operators per live chat', async () => {
    const { data: a } = await create('email');
    const { data: b } = await create('email');
    await call(t.app, 'PUT', `/live-chats/${a.id}/operators/op-only-a`);
    expect((await call(t.app, 'GET', `/live-chats/${b.id}/operators`)).data.items).toEqual([]);
  });

  it('answers 404 live_chat_not_found on an unknown live chat', async () => {
    const unknown = randomUUID();
    expectProblem(await call(t.app, 'PUT', `/live-chats/${unknown}/operators/op-1`), 404, 'live_chat_not_found');
    expectProblem(await call(t.app, 'DELETE', `/live-chats/${unknown}/operators/op-1`), 404, 'live_chat_not_found');
    expectProblem(await call(t.app, 'GET', `/live-chats/${unknown}/operators`), 404, 'live_chat_not_found');
  });

  it('takes an operator id with the characters of a directory id, escaped in the path', async () => {
    const { data: chat } = await create('email');
    const operatorId = 'ann.smith@corp/eu:17';
    expect((await call(t.app, 'PUT', `/live-chats/${chat.id}/operators/${encodeURIComponent(operatorId)}`)).statusCode).toBe(204);
    expect((await call(t.app, 'GET', `/live-chats/${chat.id}/operators`)).data.items).toEqual([{ operatorId, assignedAt: expect.any(String) }]);
  });
});
