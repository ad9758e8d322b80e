import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { channels, liveChatWithOperator } from '../support/fixtures.js';
import { expectFieldError, expectProblem } from '../support/problems.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

async function createKey(scopes: string[], name = `key ${randomUUID().slice(0, 8)}`): Promise<{ id: string; key: string }> {
  const created = await call(t.app, 'POST', '/api-keys', { name, scopes });
  expect(created.statusCode, created.body).toBe(201);
  return created.data;
}

describe('POST /api-keys', () => {
  it('creates a key and shows it once, with its id, name, scopes and creation time', async () => {
    const created = await call(t.app, 'POST', '/api-keys', { name: 'CRM', scopes: ['sessions'] });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.data).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'CRM',
      scopes: ['sessions'],
      liveChatIds: null,
      key: expect.any(String),
      createdAt: expect.any(String),
    });
    expect(created.data.key.length).toBeGreaterThanOrEqual(32);
  });

  it('stores the key as its SHA-256, never the key itself', async () => {
    const { id, key } = await createKey(['sessions']);
    const row = await t.database.handle.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.key_hash).toBe(createHash('sha256').update(key).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(key);
  });

  it('refuses no scopes, an unknown scope and a repeated one', async () => {
    expectFieldError(await call(t.app, 'POST', '/api-keys', { name: 'x', scopes: [] }), '/scopes', 'too_few_items');
    expectProblem(await call(t.app, 'POST', '/api-keys', { name: 'x', scopes: ['root'] }), 400, 'validation_failed');
    expectFieldError(await call(t.app, 'POST', '/api-keys', { name: 'x', scopes: ['admin', 'admin'] }), '/scopes', 'duplicate_items');
    expectFieldError(await call(t.app, 'POST', '/api-keys', { scopes: ['admin'] }), '/name', 'required');
  });
});

describe('GET /api-keys', () => {
  it('lists active keys without their secrets', async () => {
    const a = await createKey(['sessions'], 'listed a');
    const b = await createKey(['admin', 'sessions'], 'listed b');
    const listed = await call(t.app, 'GET', '/api-keys');
    expect(listed.statusCode).toBe(200);
    expect(listed.body).not.toContain(a.key);
    expect(listed.body).not.toContain(b.key);
    expect(listed.data.items).toEqual(
      expect.arrayContaining([
        { id: a.id, name: 'listed a', scopes: ['sessions'], liveChatIds: null, createdAt: expect.any(String) },
        { id: b.id, name: 'listed b', scopes: ['admin', 'sessions'], liveChatIds: null, createdAt: expect.any(String) },
      ]),
    );
    for (const item of listed.data.items) expect(Object.keys(item).sort()).toEqual(['createdAt', 'id', 'liveChatIds', 'name', 'scopes']);
  });
});

describe('using a key', () => {
  it('lets a sessions key work with sessions, contacts and reading live chats', async () => {
    const { key } = await createKey(['sessions']);
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'email');
    const session = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Ann' }, account: 'ann@keys.example' }, { key });
    expect(session.statusCode, session.body).toBe(201);
    expect((await call(t.app, 'GET', `/sessions/${session.data.id}`, undefined, { key })).statusCode).toBe(200);
    expect((await call(t.app, 'POST', '/contacts', { name: 'Bob' }, { key })).statusCode).toBe(201);
    expect((await call(t.app, 'GET', `/contacts/${session.data.contactId}`, undefined, { key })).statusCode).toBe(200);
    expect((await call(t.app, 'GET', '/live-chats', undefined, { key })).statusCode).toBe(200);
    expect((await call(t.app, 'GET', `/live-chats/${liveChatId}`, undefined, { key })).statusCode).toBe(200);
  });

  it('answers 403 forbidden to a sessions key on every admin route', async () => {
    const { key, id } = await createKey(['sessions']);
    const { liveChatId } = await liveChatWithOperator(t.app, 'email');
    const attempts = [
      call(t.app, 'POST', '/live-chats', { name: 'x', channel: channels.telegram() }, { key }),
      call(t.app, 'PATCH', `/live-chats/${liveChatId}`, { name: 'y' }, { key }),
      call(t.app, 'PUT', `/live-chats/${liveChatId}/operators/op-sneaky`, undefined, { key }),
      call(t.app, 'DELETE', `/live-chats/${liveChatId}/operators/op-sneaky`, undefined, { key }),
      call(t.app, 'POST', '/api-keys', { name: 'escalate', scopes: ['admin'] }, { key }),
      call(t.app, 'GET', '/api-keys', undefined, { key }),
      call(t.app, 'DELETE', `/api-keys/${id}`, undefined, { key }),
    ];
    for (const response of await Promise.all(attempts)) expectProblem(response, 403, 'forbidden');
    expect((await call(t.app, 'GET', `/live-chats/${liveChatId}/operators`)).data.items.map((o: { operatorId: string }) => o.operatorId)).not.toContain('op-sneaky');
  });

  it('lets an admin key do admin work and session work', async () => {
    const { key } = await createKey(['admin']);
    const created = await call(t.app, 'POST', '/live-chats', { name: 'by admin key', channel: channels.email() }, { key });
    expect(created.statusCode, created.body).toBe(201);
    expect((await call(t.app, 'PUT', `/live-chats/${created.data.id}/operators/op-1`, undefined, { key })).statusCode).toBe(204);
    const session = await call(t.app, 'POST', '/sessions', { liveChatId: created.data.id, operatorId: 'op-1', contact: { name: 'Ann' }, account: 'ann@admin.example' }, { key });
    expect(session.statusCode, session.body).toBe(201);
  });
});

describe('DELETE /api-keys/{id}', () => {
  it('revokes a key: it then gets 401 and is no longer listed', async () => {
    const { id, key } = await createKey(['sessions']);
    expect((await call(t.app, 'GET', '/live-chats', undefined, { key })).statusCode).toBe(200);
    const revoked = await call(t.app, 'DELETE', `/api-keys/${id}`);
    expect(revoked.statusCode, revoked.body).toBe(204);
    const refused = await call(t.app, 'GET', '/live-chats', undefined, { key });
    expectProblem(refused, 401, 'unauthorized');
    expect(refused.headers['www-authenticate']).toBe('Bearer');
    const listed = await call(t.app, 'GET', '/api-keys');
    expect(listed.data.items.map((k: { id: string }) => k.id)).not.toContain(id);
  });

  it('answers 404 api_key_not_found for an unknown or already revoked key', async () => {
    const { id } = await createKey(['sessions']);
    expect((await call(t.app, 'DELETE', `/api-keys/${id}`)).statusCode).toBe(204);
    expectProblem(await call(t.app, 'DELETE', `/api-keys/${id}`), 404, 'api_key_not_found');
    expectProblem(await call(t.app, 'DELETE', `/api-keys/${randomUUID()}`), 404, 'api_key_not_found');
  });
});
