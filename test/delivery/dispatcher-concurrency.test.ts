import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { liveChatWithOperator, newPhone } from '../support/fixtures.js';
import { type HttpStandIn, waitUntil } from '../support/http-stand-in.js';
import { startWhatsAppStandIn } from '../support/whatsapp-stand-in.js';
import { messageOf, whatsAppSession } from './helpers.js';

// DISPATCHER_CONCURRENCY reaches the dispatcher the application starts: with 2, a provider that
// holds its answers sees two messages at a time, however many are due.

describe('the dispatcher of the application', () => {
  let t: TestApp;
  let whatsapp: HttpStandIn;
  let inFlight = 0;
  let mostInFlight = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));

  beforeAll(async () => {
    whatsapp = await startWhatsAppStandIn();
    t = await createTestApp({ config: { dispatcherEnabled: true, dispatcherConcurrency: 2, whatsappApiBaseUrl: whatsapp.url } });
  });
  afterAll(async () => {
    open();
    await t.close();
    await whatsapp.close();
  });

  it('has at most DISPATCHER_CONCURRENCY messages at the provider at once, and delivers every one', async () => {
    whatsapp.setHandler(async (request) => {
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await gate;
      inFlight -= 1;
      const to = String(request.body?.to ?? '');
      return { status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input: to, wa_id: to }], messages: [{ id: `wamid.C${whatsapp.requests.length}${to}` }] } };
    });

    const chat = await liveChatWithOperator(t.app, 'whatsapp');
    const sessions = [];
    for (let i = 0; i < 6; i++) {
      sessions.push(await whatsAppSession(t.app, t.database.handle.db, { phone: newPhone(), message: { text: `hello ${i}` }, ...chat }));
    }
    await waitUntil(() => inFlight >= 2, { what: 'two messages at the provider' });
    // Time for a third to be sent, were it allowed.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(inFlight).toBe(2);

    open();
    for (const session of sessions) {
      await waitUntil(async () => (await messageOf(t.app, session.sessionId, session.messageId!)).status === 'sent', { what: 'every message sent' });
    }
    expect(mostInFlight).toBe(2);
    expect(whatsapp.requests).toHaveLength(6);
  });
});
