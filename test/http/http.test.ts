import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { connectDatabase } from '../../src/db/connection.js';
import { ADMIN_KEY, type TestApp, TestClock, call, createTestApp, testConfig } from '../support/app.js';
import { expectFieldError, expectProblem } from '../support/problems.js';

let t: TestApp;
/** A second app on the same database, with routes that fail on purpose. */
let failing: App;

beforeAll(async () => {
  t = await createTestApp();
  failing = await buildApp({ config: testConfig({ bodyLimitBytes: 1024 }), database: t.database.handle, clock: new TestClock() });
  failing.get('/test/boom', { config: { access: 'public' } }, async () => {
    throw new Error('secret internals: password=hunter2 at /srv/app/src/sessions/service.ts:42');
  });
  failing.get('/test/sql', { config: { access: 'public' } }, async () => {
    throw Object.assign(new Error('relation "sessions_secret_table" does not exist'), { code: '42P01', severity: 'ERROR' });
  });
  await failing.ready();
});
afterAll(async () => {
  await failing?.close();
  await t.close();
});

describe('authentication', () => {
  it('answers 401 unauthorized with WWW-Authenticate: Bearer when the key is missing', async () => {
    const response = await call(t.app, 'GET', '/sessions', undefined, { key: null });
    expectProblem(response, 401, 'unauthorized');
    expect(response.headers['www-authenticate']).toBe('Bearer');
  });

  it('answers 401 to an unknown key and to a header that is not a bearer token', async () => {
    const unknown = await call(t.app, 'GET', '/live-chats', undefined, { key: 'sk_unknown_key_0123456789' });
    expectProblem(unknown, 401, 'unauthorized');
    expect(unknown.headers['www-authenticate']).toBe('Bearer');
    const basic = await call(t.app, 'GET', '/live-chats', undefined, { key: null, headers: { authorization: `Basic ${Buffer.from(`admin:${ADMIN_KEY}`).toString('base64')}` } });
    expectProblem(basic, 401, 'unauthorized');
    const empty = await call(t.app, 'GET', '/live-chats', undefined, { key: null, headers: { authorization: 'Bearer ' } });
    expectProblem(empty, 401, 'unauthorized');
  });

  it('does not let an unauthenticated request reach a route’s rules', async () => {
    const response = await call(t.app, 'POST', '/live-chats', { name: 'x' }, { key: null });
    expectProblem(response, 401, 'unauthorized');
  });

  it('accepts ADMIN_API_KEY as an admin key, with the scheme in any case', async () => {
    expect((await call(t.app, 'GET', '/api-keys')).statusCode).toBe(200);
    const lower = await call(t.app, 'GET', '/api-keys', undefined, { key: null, headers: { authorization: `bearer ${ADMIN_KEY}` } });
    expect(lower.statusCode).toBe(200);
  });

  it('answers 403 forbidden to a key without the route’s scope', async () => {
    const created = await call(t.app, 'POST', '/api-keys', { name: 'reader', scopes: ['sessions'] });
    const response = await call(t.app, 'POST', '/api-keys', { name: 'x', scopes: ['admin'] }, { key: created.data.key });
    const problem = expectProblem(response, 403, 'forbidden');
    expect(problem.detail).toContain('admin');
  });

  it('serves health, the OpenAPI document and the docs without a key', async () => {
    const health = await call(t.app, 'GET', '/healthz', undefined, { key: null });
    expect(health.statusCode).toBe(200);
    expect(health.data).toEqual({ status: 'ok' });
    const ready = await call(t.app, 'GET', '/readyz', undefined, { key: null });
    expect(ready.statusCode).toBe(200);
    const openapi = await call(t.app, 'GET', '/openapi.json', undefined, { key: null });
    expect(openapi.statusCode).toBe(200);
    expect(openapi.data.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.data.paths)).toEqual(expect.arrayContaining(['/sessions', '/sessions/{id}/reopen', '/live-chats', '/contacts', '/api-keys']));
    const docs = await t.app.inject({ method: 'GET', url: '/docs' });
    expect(docs.statusCode).toBeLessThan(400);
  });
});

describe('problem details', () => {
  it('renders a refusal as application/problem+json with type, title, status, detail, code and instance', async () => {
    const id = randomUUID();
    const response = await call(t.app, 'GET', `/sessions/${id}`);
    const problem = expectProblem(response, 404, 'session_not_found');
    expect(problem).toEqual({
      type: expect.stringMatching(/session_not_found$/),
      title: 'Not Found',
      status: 404,
      detail: expect.stringContaining(id),
      code: 'session_not_found',
      instance: `/sessions/${id}`,
    });
  });

  it('answers 404 not_found as a problem for an unknown route, with or without a key', async () => {
    expectProblem(await call(t.app, 'GET', '/no/such/route'), 404, 'not_found');
    expectProblem(await call(t.app, 'DELETE', '/sessions', undefined, { key: null }), 404, 'not_found');
  });

  it('renders router errors as problems too: a malformed URL is 400 bad_url', async () => {
    const response = await call(t.app, 'GET', '/sessions/%E0%A4%A');
    expectProblem(response, 400, 'bad_url');
  });

  it('takes operator ids of up to 128 characters in the path', async () => {
    const chat = await call(t.app, 'POST', '/live-chats', { name: 'long ids', channel: { type: 'email', address: 'a@example.com', smtp: { host: 'localhost', port: 25 } } });
    const operatorId = 'o'.repeat(128);
    expect((await call(t.app, 'PUT', `/live-chats/${chat.data.id}/operators/${operatorId}`)).statusCode).toBe(204);
    const listed = await call(t.app, 'GET', `/live-chats/${chat.data.id}/operators`);
    expect(listed.data.items.map((o: { operatorId: string }) => o.operatorId)).toEqual([operatorId]);
  });

  it('lists every invalid field as { field, code, message } with JSON Pointers into body and query', async () => {
    const body = await call(t.app, 'POST', '/contacts', { name: 7, phones: ['+4915123456789', 12] });
    const problem = expectProblem(body, 400, 'validation_failed');
    for (const error of problem.errors) expect(Object.keys(error).sort()).toEqual(['code', 'field', 'message']);
    expectFieldError(body, '/name', 'invalid_type');
    expectFieldError(body, '/phones/1', 'invalid_type');
    expectFieldError(await call(t.app, 'GET', '/sessions?limit=abc'), '/limit', 'invalid_type');
    expectFieldError(await call(t.app, 'GET', '/sessions?colour=red'), '/colour', 'unknown_field');
  });

  it('answers malformed JSON with 400 validation_failed', async () => {
    const response = await call(t.app, 'POST', '/contacts', '{"name": "Ann",', { headers: { 'content-type': 'application/json' } });
    expectFieldError(response, '', 'invalid_json');
  });

  it('answers a body that is not JSON with 415 unsupported_media_type', async () => {
    const response = await call(t.app, 'POST', '/contacts', 'name=Ann', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expectProblem(response, 415, 'unsupported_media_type');
  });

  it('answers a body over the limit with 413 payload_too_large', async () => {
    const response = await call(failing, 'POST', '/contacts', { name: 'x'.repeat(2000) });
    expectProblem(response, 413, 'payload_too_large');
  });

  it('shows no internals in a 500', async () => {
    for (const url of ['/test/boom', '/test/sql']) {
      const response = await call(failing, 'GET', url);
      const problem = expectProblem(response, 500, 'internal_error');
      expect(problem.detail).toBe('An unexpected error occurred.');
      for (const leak of ['hunter2', 'password', 'service.ts', 'sessions_secret_table', '42P01', 'stack']) expect(response.body).not.toContain(leak);
    }
  });
});

describe('the database out of reach', () => {
  it('answers 503 database_unavailable with Retry-After instead of hanging', async () => {
    const unreachable = await connectDatabase({ databaseUrl: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMs: 1_000 });
    const app = await buildApp({ config: testConfig(), database: unreachable, clock: new TestClock() });
    await app.ready();
    try {
      const started = Date.now();
      const response = await call(app, 'GET', `/sessions/${randomUUID()}`);
      expectProblem(response, 503, 'database_unavailable');
      expect(response.headers['retry-after']).toEqual(expect.any(String));
      expect(Date.now() - started).toBeLessThan(5_000);
      const ready = await call(app, 'GET', '/readyz', undefined, { key: null });
      expect(ready.statusCode).toBe(503);
    } finally {
      await app.close();
      await unreachable.close();
    }
  });
});
