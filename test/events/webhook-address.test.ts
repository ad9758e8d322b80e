import type { LookupAddress } from 'node:dns';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertSubscription } from '../../src/events/subscription-repository.js';
import { sealSecrets } from '../../src/events/subscription-secrets.js';
import { newWebhookSecret, signWebhook } from '../../src/events/signature.js';
import { isPublicAddress } from '../../src/events/webhook-address.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator } from '../support/fixtures.js';
import { HttpStandIn, waitUntil } from '../support/http-stand-in.js';
import { expectProblem } from '../support/problems.js';
import { anEvent, deliveringConfig } from './helpers.js';

describe('which addresses are public', () => {
  it.each(['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111'])('%s is', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });
  it.each([
    '127.0.0.1',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '255.255.255.255',
    '224.0.0.1',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    '::ffff:10.0.0.1',
    '64:ff9b::a00:1',
    'not-an-address',
  ])('%s is not', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });
});

describe('webhook signatures', () => {
  it('verify with the standardwebhooks library, with either secret while two sign', () => {
    const [first, second] = [newWebhookSecret(), newWebhookSecret()];
    const body = JSON.stringify({ id: 'e', type: 'session.created' });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(timestamp), 'webhook-signature': signWebhook([first, second], 'msg_1', timestamp, body) };
    expect(new Webhook(first).verify(body, headers)).toEqual({ id: 'e', type: 'session.created' });
    expect(new Webhook(second).verify(body, headers)).toBeTruthy();
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow();
  });
});

describe('delivering to an address that is not public', () => {
  let t: TestApp;
  let hooks: HttpStandIn;
  // Stands in for DNS: rebind.example answers a public address until it is told otherwise.
  const dns = new Map<string, string>([['rebind.example', '93.184.215.14']]);
  const resolveHost = async (name: string): Promise<LookupAddress[]> => {
    const address = dns.get(name) ?? (name === 'localhost' ? '127.0.0.1' : undefined);
    if (!address) throw Object.assign(new Error(`${name} not found`), { code: 'ENOTFOUND' });
    return [{ address, family: address.includes(':') ? 6 : 4 }];
  };

  beforeAll(async () => {
    hooks = await HttpStandIn.start(() => ({ status: 200, body: {} }));
    t = await createTestApp({ resolveHost, config: { events: deliveringConfig({ allowPrivate: false }) } });
  });
  afterAll(async () => {
    await t.close();
    await hooks.close();
  });

  const port = () => new URL(hooks.url).port;

  /** A subscription stored as though its URL had passed the check when it was set. */
  async function storedSubscription(url: string, liveChatId: string): Promise<string> {
    const row = await insertSubscription(t.database.handle.db, {
      url,
      types: null,
      liveChatIds: [liveChatId],
      description: null,
      sealedSecrets: sealSecrets(t.app.services.secrets, { current: newWebhookSecret() }),
    });
    return row.id;
  }

  async function lastError(subscriptionId: string): Promise<string> {
    return waitUntil(async () => {
      const { data } = await call(t.app, 'GET', `/event-subscriptions/${subscriptionId}/deliveries`);
      return data.items[0]?.lastError ?? undefined;
    });
  }

  it('refuses at creation a URL whose name resolves to a loopback or private address', async () => {
    dns.set('internal.example', '10.20.30.40');
    expectProblem(await call(t.app, 'POST', '/event-subscriptions', { url: `http://internal.example:${port()}/hooks` }), 422, 'webhook_url_not_allowed');
    expectProblem(await call(t.app, 'POST', '/event-subscriptions', { url: `http://localhost:${port()}/hooks` }), 422, 'webhook_url_not_allowed');
    expectProblem(await call(t.app, 'POST', '/event-subscriptions', { url: 'https://nowhere.example/hooks' }), 422, 'webhook_url_not_allowed');
  });

  it('fails a delivery to a private address without connecting', async () => {
    const { liveChatId } = await liveChatWithOperator(t.app, 'telegram');
    const id = await storedSubscription(`http://127.0.0.1:${port()}/hooks`, liveChatId);
    await t.app.services.events.publish([anEvent(liveChatId)]);
    expect(await lastError(id)).toContain('not a public address');
    expect(hooks.requests).toEqual([]);
  });

  it('fails a delivery to a name that resolves to loopback now, without connecting', async () => {
    const { liveChatId } = await liveChatWithOperator(t.app, 'telegram');
    const created = await call(t.app, 'POST', '/event-subscriptions', { url: `http://rebind.example:${port()}/hooks`, liveChatIds: [liveChatId] });
    expect(created.statusCode).toBe(201);
    // The name changes its answer after the check (DNS rebinding).
    dns.set('rebind.example', '127.0.0.1');
    await t.app.services.events.publish([anEvent(liveChatId)]);
    expect(await lastError(created.data.id)).toContain('not public');
    expect(hooks.requests).toEqual([]);
  });
});
