import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { type TestApp, call, createTestApp, testConfig } from '../support/app.js';
import { createTestDatabase } from '../support/database.js';
import { liveChatWithOperator } from '../support/fixtures.js';
import { expectFieldError, expectProblem } from '../support/problems.js';

let t: TestApp;
let ours: { liveChatId: string; operatorId: string };
let theirs: { liveChatId: string; operatorId: string };
/** A sessions key restricted to `ours`. */
let key: string;
let theirSession: { id: string; updatedAt: string };
let ourSession: { id: string };

async function openSession(chat: { liveChatId: string; operatorId: string }, apiKey?: string) {
  const body = { liveChatId: chat.liveChatId, operatorId: chat.operatorId, contact: { name: 'Ann' }, account: `p${randomUUID().slice(0, 8)}@example.com` };
  const created = await call(t.app, 'POST', '/sessions', body, apiKey ? { key: apiKey } : {});
  expect(created.statusCode, created.body).toBe(201);
  return created.data;
}

beforeAll(async () => {
  t = await createTestApp();
  ours = await liveChatWithOperator(t.app, 'email');
  theirs = await liveChatWithOperator(t.app, 'email');
  const created = await call(t.app, 'POST', '/api-keys', { name: 'desk A', scopes: ['sessions'], liveChatIds: [ours.liveChatId] });
  expect(created.statusCode, created.body).toBe(201);
  key = created.data.key;
  theirSession = await openSession(theirs);
  ourSession = await openSession(ours);
});
afterAll(() => t.close());

describe('creating a restricted key', () => {
  it('shows its live chats when created and in the listing; unrestricted keys show null', async () => {
    const created = await call(t.app, 'POST', '/api-keys', { name: 'two desks', scopes: ['sessions'], liveChatIds: [ours.liveChatId, theirs.liveChatId] });
    expect(created.data.liveChatIds).toEqual([ours.liveChatId, theirs.liveChatId]);
    const unrestricted = await call(t.app, 'POST', '/api-keys', { name: 'all desks', scopes: ['sessions'], liveChatIds: null });
    expect(unrestricted.data.liveChatIds).toBeNull();
    const listed = (await call(t.app, 'GET', '/api-keys')).data.items as { id: string; liveChatIds: string[] | null }[];
    expect(listed.find((k) => k.id === created.data.id)?.liveChatIds).toEqual([ours.liveChatId, theirs.liveChatId]);
    expect(listed.find((k) => k.id === unrestricted.data.id)?.liveChatIds).toBeNull();
  });

  it('refuses a restricted admin key, a live chat that does not exist, and an empty or repeated list', async () => {
    expectFieldError(await call(t.app, 'POST', '/api-keys', { name: 'x', scopes: ['sessions', 'admin'], liveChatIds: [ours.liveChatId] }), '/liveChatIds', 'restricted_admin_key');
    expectFieldError(await call(t.app, 'POST', '/api-keys', { name: 'x', scopes: ['sessions'], liveChatIds: [ours.liveChatId, randomUUID()] }), '/liveChatIds/1', 'unknown_live_chat');
    expectFieldError(await call(t.app, 'POST', '/api-keys', { name: 'x', scopes: ['sessions'], liveChatIds: [] }), '/liveChatIds', 'too_few_items');
    expectFieldError(await call(t.app, 'POST', '/api-keys', { name: 'x', scopes: ['sessions'], liveChatIds: [ours.liveChatId, ours.liveChatId] }), '/liveChatIds', 'duplicate_items');
  });
});

describe('a restricted key on live chat routes', () => {
  it('lists only its live chats', async () => {
    const listed = await call(t.app, 'GET', '/live-chats', undefined, { key });
    expect(listed.statusCode).toBe(200);
    expect(listed.data.items.map((c: { id: string }) => c.id)).toEqual([ours.liveChatId]);
  });

  it('reads its live chat, and another answers 404 live_chat_not_found as if it did not exist', async () => {
    expect((await call(t.app, 'GET', `/live-chats/${ours.liveChatId}`, undefined, { key })).statusCode).toBe(200);
    const other = expectProblem(await call(t.app, 'GET', `/live-chats/${theirs.liveChatId}`, undefined, { key }), 404, 'live_chat_not_found');
    const missing = expectProblem(await call(t.app, 'GET', `/live-chats/${randomUUID()}`, undefined, { key }), 404, 'live_chat_not_found');
    expect(Object.keys(other).sort()).toEqual(Object.keys(missing).sort());
  });

  it('is refused the admin routes, like any sessions key', async () => {
    expectProblem(await call(t.app, 'PATCH', `/live-chats/${ours.liveChatId}`, { name: 'x' }, { key }), 403, 'forbidden');
    expectProblem(await call(t.app, 'GET', `/live-chats/${ours.liveChatId}/operators`, undefined, { key }), 403, 'forbidden');
  });
});

describe('a restricted key on session routes', () => {
  it('initiates on its live chat, and on another gets 404 live_chat_not_found with nothing created', async () => {
    await openSession(ours, key);
    const before = await call(t.app, 'GET', `/sessions?liveChatId=${theirs.liveChatId}`);
    const refused = await call(
      t.app,
      'POST',
      '/sessions',
      { liveChatId: theirs.liveChatId, operatorId: theirs.operatorId, contact: { name: 'Eve' }, account: 'eve@example.com' },
      { key, headers: { 'idempotency-key': 'restricted-1' } },
    );
    expectProblem(refused, 404, 'live_chat_not_found');
    expect((await call(t.app, 'GET', `/sessions?liveChatId=${theirs.liveChatId}`)).data.items).toEqual(before.data.items);
    expect((await call(t.app, 'GET', '/contacts?email=eve@example.com')).data.items).toEqual([]);
  });

  it('lists only the sessions of its live chats, also when asked for another', async () => {
    const listed = await call(t.app, 'GET', '/sessions?limit=100', undefined, { key });
    const liveChats = new Set(listed.data.items.map((s: { liveChatId: string }) => s.liveChatId));
    expect([...liveChats]).toEqual([ours.liveChatId]);
    expect(listed.data.items.map((s: { id: string }) => s.id)).toContain(ourSession.id);
    const asked = await call(t.app, 'GET', `/sessions?liveChatId=${theirs.liveChatId}`, undefined, { key });
    expect(asked.statusCode).toBe(200);
    expect(asked.data).toEqual({ items: [], nextCursor: null });
    // The same query unrestricted finds them.
    expect((await call(t.app, 'GET', `/sessions?liveChatId=${theirs.liveChatId}`)).data.items.length).toBeGreaterThan(0);
  });

  it('answers 404 session_not_found for every route on another live chat’s session, changing nothing', async () => {
    const id = theirSession.id;
    const { operatorId } = theirs;
    const attempts = [
      call(t.app, 'GET', `/sessions/${id}`, undefined, { key }),
      call(t.app, 'POST', `/sessions/${id}/close`, {}, { key }),
      call(t.app, 'POST', `/sessions/${id}/reopen`, { operatorId }, { key }),
      call(t.app, 'POST', `/sessions/${id}/assign`, { operatorId }, { key }),
      call(t.app, 'POST', `/sessions/${id}/messages`, { operatorId, text: 'Hi' }, { key }),
      call(t.app, 'GET', `/sessions/${id}/messages`, undefined, { key }),
    ];
    for (const response of await Promise.all(attempts)) expectProblem(response, 404, 'session_not_found');
    const session = await call(t.app, 'GET', `/sessions/${id}`);
    expect(session.data).toMatchObject({ status: 'open', operatorId, updatedAt: theirSession.updatedAt });
    expect((await call(t.app, 'GET', `/sessions/${id}/messages`)).data.items).toEqual([]);
  });

  it('answers another live chat’s session exactly as a session that does not exist, even with a malformed body', async () => {
    const foreign = await call(t.app, 'POST', `/sessions/${theirSession.id}/messages`, { operatorId: theirs.operatorId, text: 'a', template: { name: 'x', language: 'en' } }, { key });
    const missing = await call(t.app, 'POST', `/sessions/${randomUUID()}/messages`, { operatorId: theirs.operatorId, text: 'a', template: { name: 'x', language: 'en' } }, { key });
    expect(foreign.statusCode).toBe(missing.statusCode);
    expect(foreign.data.code).toBe(missing.data.code);
  });

  it('works on its own sessions', async () => {
    const id = ourSession.id;
    expect((await call(t.app, 'GET', `/sessions/${id}`, undefined, { key })).statusCode).toBe(200);
    expect((await call(t.app, 'POST', `/sessions/${id}/messages`, { operatorId: ours.operatorId, text: 'Hi' }, { key })).statusCode).toBe(202);
    expect((await call(t.app, 'GET', `/sessions/${id}/messages`, undefined, { key })).data.items).toHaveLength(1);
    expect((await call(t.app, 'POST', `/sessions/${id}/close`, {}, { key })).data.status).toBe('closed');
    expect((await call(t.app, 'POST', `/sessions/${id}/reopen`, { operatorId: ours.operatorId }, { key })).data.status).toBe('open');
  });

  it('uses contacts as any sessions key: contacts belong to no live chat', async () => {
    const created = await call(t.app, 'POST', '/contacts', { name: 'Bob', emails: ['bob@example.com'] }, { key });
    expect(created.statusCode).toBe(201);
    expect((await call(t.app, 'GET', `/contacts/${created.data.id}`, undefined, { key })).statusCode).toBe(200);
    expect((await call(t.app, 'PATCH', `/contacts/${created.data.id}`, { name: 'Bobby' }, { key })).statusCode).toBe(200);
    expect((await call(t.app, 'GET', '/contacts?email=bob@example.com', undefined, { key })).data.items).toHaveLength(1);
  });
});

describe('a restricted key on session batches and the event log', () => {
  it('cannot start, read, list or cancel another live chat’s batch, and reads only its own live chats’ events', async () => {
    const batch = (chat: { liveChatId: string; operatorId: string }) => ({
      liveChatId: chat.liveChatId,
      operatorId: chat.operatorId,
      message: { text: 'Hello' },
      recipients: [{ contact: { name: 'B' }, account: `b${randomUUID().slice(0, 8)}@example.com` }],
    });
    expectProblem(await call(t.app, 'POST', '/session-batches', batch(theirs), { key }), 404, 'live_chat_not_found');
    const mine = await call(t.app, 'POST', '/session-batches', batch(ours), { key });
    expect(mine.statusCode, mine.body).toBe(202);
    const other = await call(t.app, 'POST', '/session-batches', batch(theirs));
    expect(other.statusCode, other.body).toBe(202);
    for (const [method, path] of [
      ['GET', `/session-batches/${other.data.id}`],
      ['GET', `/session-batches/${other.data.id}/recipients`],
      ['POST', `/session-batches/${other.data.id}/cancel`],
    ] as const) {
      expectProblem(await call(t.app, method, path, undefined, { key }), 404, 'batch_not_found');
    }
    expect((await call(t.app, 'GET', `/session-batches/${mine.data.id}`, undefined, { key })).statusCode).toBe(200);
    expect((await call(t.app, 'GET', `/session-batches/${other.data.id}`)).data.status).not.toBe('canceled');

    const events = await call(t.app, 'GET', '/events?limit=500', undefined, { key });
    expect(events.statusCode).toBe(200);
    expect(events.data.items.length).toBeGreaterThan(0);
    expect(new Set(events.data.items.map((e: { liveChatId: string }) => e.liveChatId))).toEqual(new Set([ours.liveChatId]));
  });

  it('reads no events when asked for another live chat’s, though it has some', async () => {
    const asked = await call(t.app, 'GET', `/events?liveChatId=${theirs.liveChatId}&limit=500`, undefined, { key });
    expect(asked.statusCode, asked.body).toBe(200);
    expect(asked.data.items).toEqual([]);
    expect(asked.data.nextCursor).toEqual(expect.any(String));
    // The same query unrestricted finds them.
    const unrestricted = await call(t.app, 'GET', `/events?liveChatId=${theirs.liveChatId}&limit=500`);
    expect(unrestricted.data.items.length).toBeGreaterThan(0);
  });
});

describe('a restricted key on opt-outs and templates', () => {
  it('opts out and lists only on its live chats; another live chat answers 404 and keeps its list', async () => {
    const account = encodeURIComponent('ann@example.com');
    expectProblem(await call(t.app, 'PUT', `/live-chats/${theirs.liveChatId}/opt-outs/${account}`, {}, { key }), 404, 'live_chat_not_found');
    expectProblem(await call(t.app, 'GET', `/live-chats/${theirs.liveChatId}/opt-outs`, undefined, { key }), 404, 'live_chat_not_found');
    expectProblem(await call(t.app, 'GET', `/live-chats/${theirs.liveChatId}/templates`, undefined, { key }), 404, 'live_chat_not_found');
    expect((await call(t.app, 'GET', `/live-chats/${theirs.liveChatId}/opt-outs`)).data.items).toEqual([]);
    expect((await call(t.app, 'PUT', `/live-chats/${ours.liveChatId}/opt-outs/${account}`, {}, { key })).statusCode).toBe(204);
    const listed = await call(t.app, 'GET', `/live-chats/${ours.liveChatId}/opt-outs`, undefined, { key });
    expect(listed.data.items.map((o: { account: string }) => o.account)).toEqual(['ann@example.com']);
  });
});

describe('declaring the live chat of a route', () => {
  it('stops start-up when a sessions route does not say how it finds its live chat', async () => {
    const database = await createTestDatabase();
    const app = await buildApp({ config: testConfig(), database: database.handle });
    try {
      expect(() => app.get('/unscoped', { config: { access: 'sessions' } }, async () => ({}))).toThrow(/config\.liveChat/);
      expect(() => app.get('/unknown-owner', { config: { access: 'sessions', liveChat: { params: 'id', owner: 'invoice' } } }, async () => ({}))).toThrow(/'invoice'/);
    } finally {
      await app.close();
      await database.drop();
    }
  });
});
