import { Writable } from 'node:stream';
import pino from 'pino';
import { securityHeaders } from '../../src/http/security.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggerOptions } from '../../src/http/logging.js';
import { maskPersonalData } from '../../src/http/log-masking.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { channels, liveChatWithOperator } from '../support/fixtures.js';

describe('logs, metrics, security headers and limits', () => {
  let t: TestApp;
  const lines: Record<string, any>[] = [];
  const raw: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        raw.push(chunk.toString());
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    t = await createTestApp({ logger: pino(loggerOptions('info'), sink), config: { rateLimitPerMinute: 30 } });
  });
  afterAll(() => t.close());

  it('logs one line per request with request id, key id, route, status and duration, echoing X-Request-Id', async () => {
    const response = await call(t.app, 'GET', '/live-chats', undefined, { headers: { 'x-request-id': 'trace-abc-123' } });
    expect(response.headers['x-request-id']).toBe('trace-abc-123');
    const line = lines.find((l) => l.reqId === 'trace-abc-123');
    expect(line).toMatchObject({ route: '/live-chats', status: 200, apiKeyId: 'admin-env', method: 'GET' });
    expect(typeof line!.durationMs).toBe('number');
    expect(lines.filter((l) => l.reqId === 'trace-abc-123')).toHaveLength(1);
  });

  it('does not take a request id that could forge log lines', async () => {
    const response = await call(t.app, 'GET', '/healthz', undefined, { headers: { 'x-request-id': 'bad id\nwith newline' } });
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('never logs secrets, and masks phone numbers and emails', async () => {
    const secret = 'EAAG-very-secret-token-value';
    await call(t.app, 'POST', '/live-chats', { name: 'wa', channel: channels.whatsapp({ accessToken: secret }) });
    await call(t.app, 'POST', '/sessions', { liveChatId: '00000000-0000-4000-8000-000000000000', operatorId: 'op', contact: { name: 'x', phones: ['4915123456789'] } });
    const all = raw.join('');
    expect(all).not.toContain(secret);
    expect(all).not.toContain('test-admin-key');
    expect(maskPersonalData('call +49 151 23456789 or ann@example.com')).toBe('call +4915******789 or a***@example.com');
    t.app.log.info({ account: '+4915123456789' }, 'reaching ann@example.com');
    const last = lines[lines.length - 1]!;
    expect(last.account).toBe('+4915******789');
    expect(last.msg).toBe('reaching a***@example.com');
  });

  it('serves Prometheus metrics: requests, latency, sessions by channel and refusals by code', async () => {
    const chat = await liveChatWithOperator(t.app, 'email');
    await call(t.app, 'POST', '/sessions', { liveChatId: chat.liveChatId, operatorId: chat.operatorId, contact: { name: 'A', emails: ['m1@example.com'] } });
    await call(t.app, 'POST', '/sessions', { liveChatId: chat.liveChatId, operatorId: chat.operatorId, contact: { name: 'A', emails: ['m1@example.com'] } });
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.body).toMatch(/http_requests_total\{method="POST",route="\/sessions",status="201"\} 1/);
    expect(metrics.body).toMatch(/http_request_duration_seconds_bucket\{le="0.05",method="POST",route="\/sessions",status="201"\}/);
    expect(metrics.body).toMatch(/sessions_created_total\{channel="email"\} 1/);
    expect(metrics.body).toMatch(/session_refusals_total\{code="session_already_open"\} 1/);
  });

  it('sets security headers on every answer: success, refusal by authentication, unknown route', async () => {
    const expected = securityHeaders();
    expect(expected['x-content-type-options']).toBe('nosniff');
    expect(expected['content-security-policy']).toContain("default-src 'self'");
    for (const request of [
      { method: 'GET' as const, url: '/healthz' },
      { method: 'GET' as const, url: '/live-chats' },
      { method: 'GET' as const, url: '/no-such-route' },
    ]) {
      const response = await t.app.inject(request);
      expect(response.headers, `${request.url} → ${response.statusCode}`).toMatchObject(expected);
    }
  });

  it('serves the docs and the OpenAPI document without a key', async () => {
    const docs = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger');
    const spec = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(spec.statusCode).toBe(200);
    expect(spec.json().openapi).toBe('3.1.0');
  });

  it('limits requests per API key with 429 rate_limited and Retry-After', async () => {
    const created = await call(t.app, 'POST', '/api-keys', { name: 'limited', scopes: ['sessions'] });
    const key = created.data.key as string;
    const statuses: number[] = [];
    let limited;
    for (let i = 0; i < 32; i++) {
      const r = await call(t.app, 'GET', '/live-chats', undefined, { key });
      statuses.push(r.statusCode);
      if (r.statusCode === 429) limited = r;
    }
    expect(statuses.slice(0, 30).every((s) => s === 200)).toBe(true);
    expect(limited).toBeDefined();
    expect(limited!.data.code).toBe('rate_limited');
    expect(limited!.headers['content-type']).toContain('application/problem+json');
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThan(0);
    // Health checks are never limited.
    for (let i = 0; i < 7; i++) expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('reports readiness when the database answers', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});
