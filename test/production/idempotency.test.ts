import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator } from '../support/fixtures.js';

describe('Idempotency-Key', () => {
  let t: TestApp;
  let chat: { liveChatId: string; operatorId: string };
  let n = 0;
  const email = () => `person${n++}.${Date.now()}@example.com`;
  const post = (body: unknown, key: string, apiKey?: string) =>
    call(t.app, 'POST', '/sessions', body, { headers: { 'idempotency-key': key }, ...(apiKey ? { key: apiKey } : {}) });

  beforeAll(async () => {
    t = await createTestApp();
    const created = await liveChatWithOperator(t.app, 'email');
    chat = { liveChatId: created.liveChatId, operatorId: created.operatorId };
  });
  afterAll(() => t.close());

  const body = () => ({ ...chat, contact: { name: 'Ann', emails: [email()] }, message: { text: 'Hello' } });

  it('replays the first response for the same key and body, without doing the work twice', async () => {
    const request = body();
    const first = await post(request, 'key-replay');
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const again = await post(request, 'key-replay');
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers.location).toBe(first.headers.location);
    expect(again.data).toEqual(first.data);
    const messages = await call(t.app, 'GET', `/sessions/${first.data.id}/messages`);
    expect(messages.data.items).toHaveLength(1);
  });

  it('treats the same JSON with keys in another order as the same body', async () => {
    const request = body();
    const first = await post(request, 'key-order');
    const reordered = Object.fromEntries(Object.entries(request).reverse());
    const again = await post(reordered, 'key-order');
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.data.id).toBe(first.data.id);
  });

  it('refuses the same key with another body', async () => {
    await post(body(), 'key-reused');
    const other = await post(body(), 'key-reused');
    expect(other.statusCode).toBe(422);
    expect(other.data.code).toBe('idempotency_key_reused');
  });

  it('replays a refusal too: the first answer is the answer', async () => {
    const refused = { ...chat, operatorId: 'nobody', contact: { name: 'Ann', emails: [email()] } };
    const first = await post(refused, 'key-refusal');
    expect(first.statusCode).toBe(403);
    const again = await post(refused, 'key-refusal');
    expect(again.statusCode).toBe(403);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.data).toEqual(first.data);
  });

  it('answers 409 idempotency_key_in_use while the first request still runs', async () => {
    const request = body();
    const results = await Promise.all([post(request, 'key-concurrent'), post(request, 'key-concurrent'), post(request, 'key-concurrent')]);
    const statuses = results.map((r) => r.statusCode).sort();
    // PGlite runs requests one after another, so the duplicates may see the finished first one.
    expect(statuses.filter((s) => s === 201)).not.toHaveLength(0);
    for (const r of results.filter((x) => x.statusCode !== 201)) {
      expect(r.statusCode).toBe(409);
      expect(r.data.code).toBe('idempotency_key_in_use');
    }
    const sessions = await call(t.app, 'GET', `/sessions?account=${encodeURIComponent(request.contact.emails[0]!)}`);
    expect(sessions.data.items).toHaveLength(1);
  });

  it('keeps keys per API key: another key holder may use the same key string', async () => {
    const created = await call(t.app, 'POST', '/api-keys', { name: 'crm', scopes: ['sessions'] });
    const request = body();
    const first = await post(request, 'key-shared');
    expect(first.statusCode).toBe(201);
    const second = await post({ ...request, contact: { name: 'Bo', emails: [email()] } }, 'key-shared', created.data.key);
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
  });

  it('forgets a key after 24 hours', async () => {
    const request = body();
    const first = await post(request, 'key-expiry');
    await call(t.app, 'POST', `/sessions/${first.data.id}/close`, {});
    t.clock.advance(24 * 60 * 60 * 1000 + 1000);
    const later = await post(request, 'key-expiry');
    expect(later.headers['idempotent-replayed']).toBeUndefined();
    expect(later.statusCode).toBe(201);
    expect(later.data.id).not.toBe(first.data.id);
  });

  it('does not pin a key whose request failed with a 5xx: the retry runs again', async () => {
    const db = t.database.handle.db;
    // A fault inside the database for this one contact name only.
    await sql`CREATE FUNCTION fail_for_test() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.name = 'Explodes' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$`.execute(db);
    await sql`CREATE TRIGGER fail_for_test BEFORE INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION fail_for_test()`.execute(db);
    const request = { ...chat, contact: { name: 'Explodes', emails: [email()] } };
    try {
      const failed = await post(request, 'key-5xx');
      expect(failed.statusCode).toBe(500);
      expect(failed.data.code).toBe('internal_error');
    } finally {
      await sql`DROP TRIGGER fail_for_test ON contacts`.execute(db);
      await sql`DROP FUNCTION fail_for_test()`.execute(db);
    }
    const retried = await post(request, 'key-5xx');
    expect(retried.statusCode).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
  });

  it('refuses an over-long key', async () => {
    const response = await post(body(), 'x'.repeat(256));
    expect(response.statusCode).toBe(400);
    expect(response.data.code).toBe('validation_failed');
  });

  it('applies to reopen and to messages as well', async () => {
    const created = await post(body(), 'key-msg-session');
    const url = `/sessions/${created.data.id}/messages`;
    const send = () => call(t.app, 'POST', url, { operatorId: chat.operatorId, text: 'Follow-up' }, { headers: { 'idempotency-key': 'key-msg' } });
    const first = await send();
    const again = await send();
    expect(first.statusCode).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.data.id).toBe(first.data.id);
    const list = await call(t.app, 'GET', url);
    expect(list.data.items).toHaveLength(2);

    await call(t.app, 'POST', `/sessions/${created.data.id}/close`, {});
    const reopen = () => call(t.app, 'POST', `/sessions/${created.data.id}/reopen`, { operatorId: chat.operatorId }, { headers: { 'idempotency-key': 'key-reopen' } });
    expect((await reopen()).statusCode).toBe(200);
    const replay = await reopen();
    expect(replay.statusCode).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
  });
});
