import { afterEach, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { ADMIN_KEY, TestClock, testConfig } from '../support/app.js';
import { type TestDatabase, createTestDatabase } from '../support/database.js';
import { channels, liveChatWithOperator } from '../support/fixtures.js';
import { expectProblem } from '../support/problems.js';
import { StatementCounter } from '../support/statement-counter.js';
import { telegramMessage } from '../webhooks/providers.js';

let database: TestDatabase;
let app: App;
const clock = new TestClock();
const statements = new StatementCounter();

async function start(config: Partial<Config> = {}): Promise<App> {
  database = await createTestDatabase();
  app = await buildApp({ config: testConfig(config), database: statements.wrap(database.handle), clock });
  await app.ready();
  return app;
}
afterEach(async () => {
  await app.close();
  await database.drop();
});

/** A request from a client address, as the service's socket sees it. */
async function from(address: string, url: string, options: { key?: string; method?: 'GET' | 'POST'; headers?: Record<string, string>; payload?: string } = {}) {
  const response = await app.inject({
    method: options.method ?? 'GET',
    url,
    remoteAddress: address,
    headers: { ...(options.key ? { authorization: `Bearer ${options.key}` } : {}), ...options.headers },
    ...(options.payload ? { payload: options.payload } : {}),
  });
  return Object.assign(response, { data: /json/.test(String(response.headers['content-type'])) ? JSON.parse(response.body) : response.body });
}

describe('failed authentication is throttled per client address', () => {
  it('answers the 61st unknown key in a minute with 429 and Retry-After, without a query', async () => {
    await start();
    const before = statements.count;
    for (let i = 0; i < 60; i++) expectProblem(await from('203.0.113.7', '/sessions', { key: `sk_guess_${i}` }), 401, 'unauthorized');
    // Every guess cost a lookup...
    expect(statements.count - before).toBe(60);
    const counted = statements.count;
    const refused = await from('203.0.113.7', '/sessions', { key: 'sk_guess_61' });
    expectProblem(refused, 429, 'rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    // ...the 61st none, and not even the right key is looked at from there now.
    expectProblem(await from('203.0.113.7', '/sessions', { key: ADMIN_KEY }), 429, 'rate_limited');
    expect(statements.count).toBe(counted);
    // Another address is not affected.
    expect((await from('203.0.113.8', '/sessions', { key: ADMIN_KEY })).statusCode).toBe(200);
    // Once the minute is over, the address may try again.
    clock.advance(60_000);
    expect((await from('203.0.113.7', '/sessions', { key: ADMIN_KEY })).statusCode).toBe(200);
    expectProblem(await from('203.0.113.7', '/sessions', { key: 'sk_guess_62' }), 401, 'unauthorized');
  });

  it('counts wrong webhook secrets and signatures, and then refuses webhooks before reading the live chat', async () => {
    await start({ authFailuresPerMinute: 5 });
    const { liveChatId } = await liveChatWithOperator(app, 'telegram');
    const whatsapp = await liveChatWithOperator(app, 'whatsapp');
    const update = JSON.stringify(telegramMessage({ id: 4242 }, { text: 'hi' }));
    const telegram = (secret: string) =>
      from('198.51.100.4', `/webhooks/telegram/${liveChatId}`, { method: 'POST', payload: update, headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret } });
    for (let i = 0; i < 3; i++) expectProblem(await telegram(`wrong-secret-${i}`), 401, 'invalid_webhook_secret');
    const signed = (signature: string) =>
      from('198.51.100.4', `/webhooks/whatsapp/${whatsapp.liveChatId}`, { method: 'POST', payload: '{"object":"x","entry":[]}', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature } });
    expectProblem(await signed(`sha256=${'0'.repeat(64)}`), 401, 'invalid_signature');
    expectProblem(await from('198.51.100.4', `/webhooks/whatsapp/${whatsapp.liveChatId}?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1`), 403, 'verification_failed');
    const counted = statements.count;
    expectProblem(await telegram(channels.telegram().webhookSecret), 429, 'rate_limited');
    expect(statements.count).toBe(counted);
    // The provider's own address keeps working.
    const fine = await app.inject({
      method: 'POST',
      url: `/webhooks/telegram/${liveChatId}`,
      remoteAddress: '149.154.167.200',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': channels.telegram().webhookSecret },
      payload: update,
    });
    expect(fine.statusCode, fine.body).toBe(200);
  });

  it('counts wrong inbound secrets of the email webhook, and then refuses it before reading the live chat', async () => {
    await start({ authFailuresPerMinute: 3 });
    const inboundSecret = 'inbound-secret-0123456789';
    const { liveChatId } = await liveChatWithOperator(app, 'email', { inboundSecret });
    const raw = 'From: ann@customer.example\r\nTo: support@example.com\r\nSubject: Hello\r\nMessage-ID: <throttle-1@customer.example>\r\n\r\nHi there\r\n';
    const email = (address: string, secret: string) =>
      from(address, `/webhooks/email/${liveChatId}`, { method: 'POST', payload: raw, headers: { 'content-type': 'message/rfc822', authorization: `Bearer ${secret}` } });
    for (let i = 0; i < 3; i++) expectProblem(await email('192.0.2.9', `wrong-inbound-secret-${i}`), 401, 'invalid_inbound_secret');
    const counted = statements.count;
    const refused = await email('192.0.2.9', inboundSecret);
    expectProblem(refused, 429, 'rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expectProblem(await from('192.0.2.9', '/sessions', { key: ADMIN_KEY }), 429, 'rate_limited');
    expect(statements.count).toBe(counted);
    // The mail server's own address keeps delivering.
    const delivered = await email('192.0.2.10', inboundSecret);
    expect(delivered.statusCode, delivered.body).toBe(200);
    expect(delivered.data).toMatchObject({ outcome: 'processed' });
  });

  it('takes the client address from X-Forwarded-For only behind a trusted proxy (TRUST_PROXY)', async () => {
    await start({ authFailuresPerMinute: 2, trustProxy: ['127.0.0.1'] });
    const guess = (client: string) => from('127.0.0.1', '/sessions', { key: 'sk_guess', headers: { 'x-forwarded-for': client } });
    expectProblem(await guess('203.0.113.1'), 401, 'unauthorized');
    expectProblem(await guess('203.0.113.1'), 401, 'unauthorized');
    expectProblem(await guess('203.0.113.1'), 429, 'rate_limited');
    expectProblem(await guess('203.0.113.2'), 401, 'unauthorized');
    await app.close();
    await database.drop();
    // Without a trusted proxy the header is the client's own claim: the socket's address counts.
    await start({ authFailuresPerMinute: 2 });
    expectProblem(await guess('203.0.113.3'), 401, 'unauthorized');
    expectProblem(await guess('203.0.113.4'), 401, 'unauthorized');
    expectProblem(await guess('203.0.113.5'), 429, 'rate_limited');
  });
});

describe('GET /metrics with METRICS_TOKEN', () => {
  it('needs the token as a bearer token, and counts wrong ones as failed authentications', async () => {
    await start({ metricsToken: 'metrics-token-0123456789', authFailuresPerMinute: 2 });
    const missing = await from('192.0.2.1', '/metrics');
    expectProblem(missing, 401, 'unauthorized');
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    expectProblem(await from('192.0.2.1', '/metrics', { key: ADMIN_KEY }), 401, 'unauthorized');
    const scraped = await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '192.0.2.2', headers: { authorization: 'Bearer metrics-token-0123456789' } });
    expect(scraped.statusCode).toBe(200);
    expect(scraped.body).toContain('http_requests_total');
    expectProblem(await from('192.0.2.1', '/metrics', { key: 'wrong-token-0123456789' }), 401, 'unauthorized');
    expectProblem(await from('192.0.2.1', '/metrics', { key: 'metrics-token-0123456789' }), 429, 'rate_limited');
  });

  it('stays open without METRICS_TOKEN', async () => {
    await start();
    expect((await from('192.0.2.1', '/metrics')).statusCode).toBe(200);
  });
});
