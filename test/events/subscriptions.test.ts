import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggerOptions } from '../../src/http/logging.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator } from '../support/fixtures.js';
import { expectFieldError, expectProblem } from '../support/problems.js';
import { anEvent } from './helpers.js';

/** A public address, so that no name needs resolving. */
const PUBLIC_URL = 'https://93.184.215.14/hooks/events';
const SECRET_FORM = /^whsec_[A-Za-z0-9+/]{43}=$/;

describe('event subscriptions', () => {
  let t: TestApp;
  const logs: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logs.push(chunk.toString());
        done();
      },
    });
    t = await createTestApp({ logger: pino(loggerOptions('debug'), sink) });
  });
  afterAll(() => t.close());

  const create = (body: Record<string, unknown>) => call(t.app, 'POST', '/event-subscriptions', body);

  it('creates a subscription to every event and shows its secret in that answer only', async () => {
    const created = await create({ url: PUBLIC_URL, description: 'CRM' });
    expect(created.statusCode).toBe(201);
    expect(created.headers.location).toBe(`/event-subscriptions/${created.data.id}`);
    expect(created.data).toEqual({
      id: expect.any(String),
      url: PUBLIC_URL,
      types: null,
      liveChatIds: null,
      description: 'CRM',
      status: 'active',
      secret: expect.stringMatching(SECRET_FORM),
      createdAt: expect.any(String),
    });
    const { secret } = created.data;
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);

    const read = await call(t.app, 'GET', `/event-subscriptions/${created.data.id}`);
    const listed = await call(t.app, 'GET', '/event-subscriptions?limit=100');
    expect(read.data).toEqual({ ...created.data, secret: undefined });
    expect(listed.data.items.map((s: { id: string }) => s.id)).toContain(created.data.id);
    const stored = await t.database.handle.db.selectFrom('event_subscriptions').select('secrets').where('id', '=', created.data.id).executeTakeFirstOrThrow();
    for (const text of [read.body, listed.body, stored.secrets, logs.join('')]) expect(text).not.toContain(secret.slice('whsec_'.length));
  });

  it('keeps the types and live chats it is given, each once', async () => {
    const chat = await liveChatWithOperator(t.app, 'telegram');
    const created = await create({ url: PUBLIC_URL, types: ['message.failed', 'session.created', 'message.failed'], liveChatIds: [chat.liveChatId] });
    expect(created.statusCode).toBe(201);
    expect(created.data).toMatchObject({ types: ['message.failed', 'session.created'], liveChatIds: [chat.liveChatId] });
  });

  it('refuses unknown event types, an empty list and a live chat that does not exist', async () => {
    expectFieldError(await create({ url: PUBLIC_URL, types: ['session.created', 'session.exploded'] }), '/types/1', 'invalid_value');
    expectFieldError(await create({ url: PUBLIC_URL, types: [] }), '/types', 'too_few_items');
    expectProblem(await create({ url: PUBLIC_URL, liveChatIds: ['00000000-0000-4000-8000-000000000000'] }), 404, 'live_chat_not_found');
  });

  it.each([
    ['plain http', 'http://93.184.215.14/hooks'],
    ['a name that resolves to loopback', 'https://localhost/hooks'],
    ['a loopback address', 'https://127.0.0.1:8443/hooks'],
    ['a private address', 'https://10.1.2.3/hooks'],
    ['a link-local address (cloud metadata)', 'https://169.254.169.254/latest/meta-data'],
    ['IPv6 loopback', 'https://[::1]/hooks'],
    ['an IPv4-mapped private address', 'https://[::ffff:192.168.0.1]/hooks'],
    ['credentials in the URL', 'https://user:pass@93.184.215.14/hooks'],
  ])('refuses %s with 422 webhook_url_not_allowed', async (_what, url) => {
    expectProblem(await create({ url }), 422, 'webhook_url_not_allowed');
  });

  it('changes, pauses and resumes a subscription, checking a new URL too', async () => {
    const { data: created } = await create({ url: PUBLIC_URL });
    const path = `/event-subscriptions/${created.id}`;
    const patched = await call(t.app, 'PATCH', path, { types: ['session.closed'], description: null, status: 'paused' });
    expect(patched.statusCode).toBe(200);
    expect(patched.data).toMatchObject({ types: ['session.closed'], description: null, status: 'paused', url: PUBLIC_URL });
    expect((await call(t.app, 'PATCH', path, { status: 'active', types: null })).data).toMatchObject({ status: 'active', types: null });
    expectProblem(await call(t.app, 'PATCH', path, { url: 'https://10.0.0.7/hooks' }), 422, 'webhook_url_not_allowed');
    expectProblem(await call(t.app, 'PATCH', path, {}), 400, 'validation_failed');
    expectProblem(await call(t.app, 'PATCH', '/event-subscriptions/00000000-0000-4000-8000-000000000000', { status: 'paused' }), 404, 'event_subscription_not_found');
  });

  it('rotates the secret, showing the new one in that answer only', async () => {
    const { data: created } = await create({ url: PUBLIC_URL });
    const rotated = await call(t.app, 'POST', `/event-subscriptions/${created.id}/rotate-secret`);
    expect(rotated.statusCode).toBe(200);
    expect(rotated.data.secret).toMatch(SECRET_FORM);
    expect(rotated.data.secret).not.toBe(created.secret);
    const read = await call(t.app, 'GET', `/event-subscriptions/${created.id}`);
    expect(read.data.secret).toBeUndefined();
    expect(read.body).not.toContain(rotated.data.secret.slice('whsec_'.length));
  });

  it('deletes a subscription, with its deliveries', async () => {
    const chat = await liveChatWithOperator(t.app, 'email');
    const { data: created } = await create({ url: PUBLIC_URL, liveChatIds: [chat.liveChatId] });
    const { data: other } = await create({ url: PUBLIC_URL, liveChatIds: [chat.liveChatId] });
    await t.app.services.events.publish([{ ...anEvent(chat.liveChatId), occurredAt: new Date(Date.now() - 60_000) }]);
    for (const id of [created.id, other.id]) await call(t.app, 'POST', `/event-subscriptions/${id}/replay`, { since: new Date(0).toISOString() });
    const deliveriesOf = async (subscriptionId: string) =>
      (await t.database.handle.db.selectFrom('event_deliveries').select('id').where('subscription_id', '=', subscriptionId).execute()).length;
    expect(await deliveriesOf(created.id)).toBe(1);

    expect((await call(t.app, 'DELETE', `/event-subscriptions/${created.id}`)).statusCode).toBe(204);
    expect(await deliveriesOf(created.id)).toBe(0);
    expect(await deliveriesOf(other.id)).toBe(1);
    expectProblem(await call(t.app, 'GET', `/event-subscriptions/${created.id}`), 404, 'event_subscription_not_found');
    expectProblem(await call(t.app, 'DELETE', `/event-subscriptions/${created.id}`), 404, 'event_subscription_not_found');
  });

  it('queues the kept events since a time for replay, and lists them as deliveries', async () => {
    const chat = await liveChatWithOperator(t.app, 'email');
    const { data: created } = await create({ url: PUBLIC_URL, liveChatIds: [chat.liveChatId], types: ['message.failed'] });
    const old = { ...anEvent(chat.liveChatId, 'message.failed'), occurredAt: new Date(Date.now() - 3_600_000) };
    const recent = anEvent(chat.liveChatId, 'message.failed');
    await t.app.services.events.publish([old, recent, anEvent(chat.liveChatId, 'session.created')]);
    const since = new Date(Date.now() - 60_000).toISOString();
    const replay = await call(t.app, 'POST', `/event-subscriptions/${created.id}/replay`, { since });
    expect(replay.statusCode).toBe(202);
    expect(replay.data).toEqual({ queued: 1 });
    const deliveries = await call(t.app, 'GET', `/event-subscriptions/${created.id}/deliveries?status=pending`);
    expect(deliveries.data).toEqual({
      items: [{ eventId: recent.id, type: 'message.failed', status: 'pending', attempts: 0, lastStatusCode: null, lastError: null, nextAttemptAt: expect.any(String), deliveredAt: null }],
      nextCursor: null,
    });
    expect((await call(t.app, 'GET', `/event-subscriptions/${created.id}/deliveries?status=delivered`)).data.items).toEqual([]);
    expectFieldError(await call(t.app, 'GET', `/event-subscriptions/${created.id}/deliveries?cursor=nope`), '/cursor', 'invalid_cursor');
    expectProblem(await call(t.app, 'POST', '/event-subscriptions/00000000-0000-4000-8000-000000000000/replay', { since }), 404, 'event_subscription_not_found');
  });

  it('pages the listing with a cursor', async () => {
    for (let i = 0; i < 3; i++) await create({ url: PUBLIC_URL });
    const first = await call(t.app, 'GET', '/event-subscriptions?limit=2');
    expect(first.data.items).toHaveLength(2);
    const second = await call(t.app, 'GET', `/event-subscriptions?limit=2&cursor=${first.data.nextCursor}`);
    expect(second.data.items[0].id).not.toBe(first.data.items[1].id);
  });

  it('is for admin keys only', async () => {
    const { data: key } = await call(t.app, 'POST', '/api-keys', { name: 'reader', scopes: ['sessions'] });
    expectProblem(await call(t.app, 'GET', '/event-subscriptions', undefined, { key: key.key }), 403, 'forbidden');
    expectProblem(await call(t.app, 'POST', '/event-subscriptions', { url: PUBLIC_URL }, { key: key.key }), 403, 'forbidden');
  });
});
