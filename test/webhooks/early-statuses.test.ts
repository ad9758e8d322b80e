import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimDueMessages, recordSent } from '../../src/delivery/outbox-repository.js';
import { WebhookHousekeeping } from '../../src/webhooks/housekeeping.js';
import { recordProcessedEvent } from '../../src/webhooks/inbound-repository.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator, newPhone } from '../support/fixtures.js';
import { type HttpStandIn, waitUntil } from '../support/http-stand-in.js';
import { startWhatsAppStandIn } from '../support/whatsapp-stand-in.js';
import { newWamid, postWhatsApp, whatsappChange, whatsappNotification, whatsappStatus } from './providers.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

// WhatsApp may report on a message before the dispatcher has written down the wamid it
// answered with: those reports wait for their message instead of being dropped.
describe('WhatsApp statuses that arrive before their message carries the wamid', () => {
  let t: TestApp;
  let liveChatId: string;
  let operatorId: string;
  let housekeeping: WebhookHousekeeping;
  beforeAll(async () => {
    t = await createTestApp();
    ({ liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp'));
    housekeeping = new WebhookHousekeeping(t.database.handle.db, t.clock, t.app.log);
  });
  afterAll(() => t.close());

  const db = () => t.database.handle.db;
  const ago = (ms: number) => new Date(t.clock.now().getTime() - ms);
  const notify = (...statuses: ReturnType<typeof whatsappStatus>[]) =>
    postWhatsApp(t.app, liveChatId, whatsappNotification([whatsappChange({ statuses })]));
  const kept = async (wamid: string) =>
    (await db().selectFrom('early_delivery_statuses').select(['status', 'error']).where('provider_message_id', '=', wamid).orderBy('status').execute());

  /** A session whose template is queued: the dispatcher has not recorded a wamid for it yet. */
  async function sessionWithQueuedTemplate() {
    const phone = newPhone();
    const session = await call(t.app, 'POST', '/sessions', {
      liveChatId,
      operatorId,
      contact: { name: 'Sheena', phones: [phone] },
      message: { template: { name: 'order_update', language: 'en_US', parameters: ['Sheena'] } },
    });
    expect(session.statusCode, session.body).toBe(201);
    const sessionId = session.data.id as string;
    return { sessionId, messageId: (await outbound(sessionId)).id as string };
  }

  /** What the dispatcher does once the provider accepted the message as `wamid`. */
  async function recordAccepted(messageId: string, wamid: string) {
    const claims = await claimDueMessages(db(), { limit: 100, leaseMs: 60_000 });
    const claim = claims.find((c) => c.id === messageId);
    expect(claim).toBeDefined();
    expect(await recordSent(db(), claim!, { providerMessageId: wamid, providerRecipient: null })).toBe(true);
  }

  async function outbound(sessionId: string) {
    const items = (await call(t.app, 'GET', `/sessions/${sessionId}/messages`)).data.items as Array<Record<string, any>>;
    return items.find((m) => m.direction === 'outbound')!;
  }

  it('keeps a report on an unknown wamid and applies it once the message carries that wamid', async () => {
    const { sessionId, messageId } = await sessionWithQueuedTemplate();
    const wamid = newWamid();

    const early = await notify(whatsappStatus(wamid, 'delivered'));
    expect(early.statusCode, early.body).toBe(200);
    expect(early.data).toEqual({ messages: 0, statuses: 0 });
    expect(await kept(wamid)).toEqual([{ status: 'delivered', error: null }]);

    // Nothing to apply it to yet.
    expect(await housekeeping.applyEarlyStatuses()).toBe(0);
    expect((await outbound(sessionId)).status).toBe('queued');

    await recordAccepted(messageId, wamid);
    expect(await housekeeping.applyEarlyStatuses()).toBe(1);
    expect(await outbound(sessionId)).toMatchObject({ status: 'delivered', providerMessageId: wamid });
    expect(await kept(wamid)).toEqual([]);
    // Applied once: a second sweep finds nothing.
    expect(await housekeeping.applyEarlyStatuses()).toBe(0);
  });

  it('applies several early reports in the order the provider made them, whatever order they came in', async () => {
    const { sessionId, messageId } = await sessionWithQueuedTemplate();
    const wamid = newWamid();
    await notify(whatsappStatus(wamid, 'read', { at: ago(1_000) }));
    await notify(whatsappStatus(wamid, 'sent', { at: ago(3_000) }), whatsappStatus(wamid, 'delivered', { at: ago(2_000) }));
    // A replay of one already kept is kept once.
    await notify(whatsappStatus(wamid, 'read', { at: ago(1_000) }));
    expect((await kept(wamid)).map((r) => r.status)).toEqual(['delivered', 'read', 'sent']);

    await recordAccepted(messageId, wamid);
    await housekeeping.applyEarlyStatuses();
    expect((await outbound(sessionId)).status).toBe('read');
  });

  it('applies an early failure with the provider’s code and text', async () => {
    const { sessionId, messageId } = await sessionWithQueuedTemplate();
    const wamid = newWamid();
    const errors = [{ code: 131026, title: 'Message undeliverable', error_data: { details: 'The recipient is not on WhatsApp.' } }];
    await notify(whatsappStatus(wamid, 'failed', { errors }));
    expect(await kept(wamid)).toEqual([{ status: 'failed', error: { code: 'whatsapp_131026', message: 'Message undeliverable: The recipient is not on WhatsApp.' } }]);

    await recordAccepted(messageId, wamid);
    expect(await housekeeping.applyEarlyStatuses()).toBe(1);
    expect(await outbound(sessionId)).toMatchObject({
      status: 'failed',
      error: { code: 'whatsapp_131026', message: 'Message undeliverable: The recipient is not on WhatsApp.' },
    });
  });

  it('does not keep a report on a known message, even one that changes nothing', async () => {
    const { sessionId, messageId } = await sessionWithQueuedTemplate();
    const wamid = newWamid();
    await recordAccepted(messageId, wamid);

    // "sent" for a message already sent moves nothing and is not kept for later either.
    expect((await notify(whatsappStatus(wamid, 'sent'))).data).toEqual({ messages: 0, statuses: 0 });
    expect((await notify(whatsappStatus(wamid, 'delivered'))).data).toEqual({ messages: 0, statuses: 1 });
    expect(await kept(wamid)).toEqual([]);
    expect((await outbound(sessionId)).status).toBe('delivered');
  });

  it('keeps a report for this live chat only: the same wamid on another live chat does not take it', async () => {
    const other = await liveChatWithOperator(t.app, 'whatsapp');
    const wamid = newWamid();
    await postWhatsApp(t.app, other.liveChatId, whatsappNotification([whatsappChange({ statuses: [whatsappStatus(wamid, 'read')] })]));
    const { sessionId, messageId } = await sessionWithQueuedTemplate();
    await recordAccepted(messageId, wamid);

    await housekeeping.applyEarlyStatuses();
    expect((await outbound(sessionId)).status).toBe('sent');
  });

  it('forgets unclaimed early reports after an hour and processed events after eight days', async () => {
    const wamid = newWamid();
    await notify(whatsappStatus(wamid, 'delivered'));
    const oldEvent = `wa:old-${newWamid()}`;
    const recentEvent = `wa:recent-${newWamid()}`;
    expect(await recordProcessedEvent(db(), liveChatId, oldEvent, ago(8 * DAY + HOUR))).toBe(true);
    expect(await recordProcessedEvent(db(), liveChatId, recentEvent, ago(7 * DAY))).toBe(true);

    // Within the hour the report stays.
    t.clock.advance(HOUR - 60_000);
    await housekeeping.purge();
    expect(await kept(wamid)).toHaveLength(1);
    const events = async () =>
      (await db().selectFrom('processed_events').select('event_id').where('event_id', 'in', [oldEvent, recentEvent]).execute()).map((r) => r.event_id);
    expect(await events()).toEqual([recentEvent]);

    t.clock.advance(2 * 60_000);
    const purged = await housekeeping.purge();
    expect(purged.earlyStatuses).toBeGreaterThanOrEqual(1);
    expect(await kept(wamid)).toEqual([]);
    // The recent event is still recognised as a replay; the old one is forgotten.
    expect(await recordProcessedEvent(db(), liveChatId, recentEvent, t.clock.now())).toBe(false);
    expect(await recordProcessedEvent(db(), liveChatId, oldEvent, t.clock.now())).toBe(true);
  });

  it('purges in chunks until nothing past its retention is left', async () => {
    const before = ago(9 * DAY);
    await sql`
      INSERT INTO processed_events (live_chat_id, event_id, processed_at)
      SELECT ${liveChatId}::uuid, 'bulk-' || n, ${before}::timestamptz FROM generate_series(1, 12000) AS n
    `.execute(db());
    const purged = await housekeeping.purge();
    expect(purged.processedEvents).toBeGreaterThanOrEqual(12_000);
    const left = await db().selectFrom('processed_events').select((eb) => eb.fn.countAll<number>().as('n')).where('event_id', 'like', 'bulk-%').executeTakeFirstOrThrow();
    expect(Number(left.n)).toBe(0);
  });
});

// The race itself, over real sockets: the stand-in reports the message delivered before it
// answers the send, so the report always comes before the dispatcher records the wamid.
describe('a delivery report that overtakes the provider’s answer', () => {
  let t: TestApp;
  let whatsapp: HttpStandIn;
  beforeAll(async () => {
    whatsapp = await startWhatsAppStandIn();
    t = await createTestApp({
      config: { dispatcherEnabled: true, whatsappApiBaseUrl: whatsapp.url, delivery: { maxAttempts: 3, retryBaseMs: 20, retryMaxMs: 100, providerTimeoutMs: 5_000 } },
    });
  });
  afterAll(async () => {
    await t.close();
    await whatsapp.close();
  });

  it('ends delivered, not sent', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const wamid = newWamid();
    const reported: number[] = [];
    whatsapp.setHandler(async (request) => {
      const to = String(request.body?.to ?? '');
      const webhook = await postWhatsApp(t.app, liveChatId, whatsappNotification([whatsappChange({ statuses: [whatsappStatus(wamid, 'delivered', { recipient: to })] })]));
      reported.push(webhook.statusCode);
      return { status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input: to, wa_id: to }], messages: [{ id: wamid }] } };
    });

    const session = await call(t.app, 'POST', '/sessions', {
      liveChatId,
      operatorId,
      contact: { name: 'Sheena', phones: [newPhone()] },
      message: { template: { name: 'order_update', language: 'en_US', parameters: ['Sheena'] } },
    });
    expect(session.statusCode, session.body).toBe(201);

    const message = await waitUntil(
      async () => {
        const items = (await call(t.app, 'GET', `/sessions/${session.data.id}/messages`)).data.items as Array<Record<string, any>>;
        return items[0]?.status === 'delivered' ? items[0] : undefined;
      },
      { what: 'the message to be delivered', timeoutMs: 15_000 },
    );
    expect(reported).toEqual([200]);
    expect(message).toMatchObject({ providerMessageId: wamid, status: 'delivered' });
  });
});
