import { type Kysely, sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ChannelClient, sent, transient } from '../../src/channels/channel-client.js';
import { channelRegistryOf } from '../../src/channels/registry.js';
import { createQueryRunner } from '../../src/db/prepared.js';
import type { Database } from '../../src/db/types.js';
import { Dispatcher, type DispatcherOptions } from '../../src/delivery/dispatcher.js';
import { type ClaimedMessage, claimDueMessages, claimOfQueued } from '../../src/delivery/outbox-repository.js';
import { type WrittenInitiation, writeCreates } from '../../src/sessions/initiation-repository.js';
import { toQueuedMessage } from '../../src/sessions/model.js';
import { UNCLAIMED } from '../../src/sessions/outbound-queue.js';
import { type TestApp, createTestApp } from '../support/app.js';
import { liveChatWithOperator, newPhone } from '../support/fixtures.js';
import { type HttpStandIn, waitUntil } from '../support/http-stand-in.js';
import { startWhatsAppStandIn } from '../support/whatsapp-stand-in.js';
import { messageOf, messagesOf, sendText, testDispatcher, whatsAppSession } from './helpers.js';

const PROVIDER_TIMEOUT_MS = 5_000;

describe('POST /sessions hands its first message to the local dispatcher', () => {
  let t: TestApp;
  let db: Kysely<Database>;
  let whatsapp: HttpStandIn;

  beforeAll(async () => {
    whatsapp = await startWhatsAppStandIn();
    t = await createTestApp({
      config: {
        dispatcherEnabled: true,
        whatsappApiBaseUrl: whatsapp.url,
        delivery: { maxAttempts: 3, retryBaseMs: 20, retryMaxMs: 100, providerTimeoutMs: PROVIDER_TIMEOUT_MS },
      },
    });
    db = t.database.handle.db;
  });
  afterAll(async () => {
    await t.close();
    await whatsapp.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** The stand-in holds its next request until the returned function is called, then accepts it as `wamid`. */
  function holdNextReply(wamid: string): () => void {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    whatsapp.replyNext(async (request) => {
      await held;
      const to = String(request.body?.to ?? '');
      return { status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input: to, wa_id: to }], messages: [{ id: wamid }] } };
    });
    return release;
  }

  it('queues the message already claimed, delivers it without claiming it again, and records it sent with one attempt', async () => {
    const leases = vi.spyOn(Dispatcher.prototype, 'leaseForNewMessage');
    const handOver = vi.spyOn(Dispatcher.prototype, 'handOver');
    // The provider holds the request until the test has looked at the outbox row.
    const release = holdNextReply('wamid.HANDED-OVER');
    const phone = newPhone();

    const session = await whatsAppSession(t.app, db, { phone, message: { template: { name: 'order_update', language: 'en_US', parameters: ['Asha'] } } });

    // The service asked for a lease (the dispatcher's: 3 × provider timeout + 5 s) and handed the message over.
    expect(leases.mock.results.map((r) => r.value)).toEqual([PROVIDER_TIMEOUT_MS * 3 + 5_000]);
    expect(handOver).toHaveBeenCalledTimes(1);
    const claim = handOver.mock.calls[0]![0];
    expect(claim).toMatchObject({
      id: session.messageId,
      sessionId: session.sessionId,
      liveChatId: session.liveChatId,
      channel: 'whatsapp',
      account: phone,
      text: null,
      template: { name: 'order_update', language: 'en_US', parameters: ['Asha'] },
      attempts: 1,
    });

    // While the provider holds it, the row carries exactly the claim it was queued with.
    await waitUntil(() => whatsapp.requests.length === 1, { what: 'the provider to be called' });
    const inFlight = await db.selectFrom('messages').select(['status', 'attempts', 'locked_until']).where('id', '=', session.messageId!).executeTakeFirstOrThrow();
    expect(inFlight).toEqual({ status: 'queued', attempts: 1, locked_until: claim.lockedUntil });
    release();

    const message = await waitUntil(
      async () => {
        const m = await messageOf(t.app, session.sessionId, session.messageId!);
        return m?.status !== 'queued' ? m : undefined;
      },
      { what: 'the message to leave the outbox' },
    );
    expect(message).toMatchObject({ status: 'sent', attempts: 1, providerMessageId: 'wamid.HANDED-OVER', error: null });
    expect(whatsapp.requests).toHaveLength(1);
    expect(whatsapp.requests[0]!.body).toMatchObject({ to: phone.slice(1), type: 'template', template: { name: 'order_update' } });
    const row = await db.selectFrom('messages').select(['locked_until', 'attempts']).where('id', '=', session.messageId!).executeTakeFirstOrThrow();
    expect(row).toEqual({ locked_until: null, attempts: 1 });
  });

  it('sends a message queued while the handed-over one is in flight once that one is done, in order', async () => {
    const release = holdNextReply('wamid.FIRST');
    const phone = newPhone();
    const toThem = () => whatsapp.requests.filter((r) => r.body?.to === phone.slice(1));
    const session = await whatsAppSession(t.app, db, { phone, message: { text: 'First' } });
    await waitUntil(() => toThem().length === 1, { what: 'the first message to reach the provider' });

    // Queued (and looked for at once) while the first is in flight: held back, in order.
    const secondId = await sendText(t.app, session, 'Second');
    expect((await messageOf(t.app, session.sessionId, secondId)).attempts).toBe(0);
    release();

    // Only the end of the first delivery lets it go.
    const messages = await waitUntil(
      async () => {
        const all = await messagesOf(t.app, session.sessionId);
        return all.every((m) => m.status === 'sent') ? all : undefined;
      },
      { what: 'both messages to be sent' },
    );
    expect(messages.map((m) => [m.text, m.attempts])).toEqual([['First', 1], ['Second', 1]]);
    expect(toThem().map((r) => r.body?.text?.body)).toEqual(['First', 'Second']);
  });
});

describe('handing over and claiming, without the app dispatcher', () => {
  let t: TestApp;
  let db: Kysely<Database>;
  const dispatchers: Dispatcher[] = [];
  /** Message ids the stub channel client was asked to send. */
  let sends: string[];

  /** Never answers until cancelled by shutdown. */
  const hangingClient: ChannelClient = {
    send: (_liveChat, message, signal) =>
      new Promise((resolve) => {
        sends.push(message.id);
        signal?.addEventListener('abort', () => resolve(transient('aborted', 'Cancelled by shutdown')), { once: true });
      }),
  };

  function dispatcher(overrides: Partial<DispatcherOptions> = {}): Dispatcher {
    const created = testDispatcher(t, channelRegistryOf({ whatsapp: hangingClient, telegram: hangingClient, email: hangingClient }), {
      providerTimeoutMs: 1_000,
      ...overrides,
    });
    dispatchers.push(created);
    return created;
  }

  /** New email sessions on one live chat, each with a first message queued (claimed for `leaseMs` when given). */
  async function queue(count: number, leaseMs: number | null): Promise<WrittenInitiation[]> {
    const chat = await liveChatWithOperator(t.app, 'email');
    const writes = Array.from({ length: count }, (_, i) => {
      const address = `person-${Date.now().toString(36)}-${i}-${Math.random().toString(36).slice(2, 8)}@example.org`;
      return {
        kind: 'create' as const,
        liveChatId: chat.liveChatId,
        channel: 'email' as const,
        operatorId: chat.operatorId,
        contact: { name: 'Ann', phones: [], emails: [address] },
        account: address,
        addAccountTo: null,
        peer: address,
        consentKeys: [address],
        catalogueVersion: null,
        message: { text: `Hello ${i}` },
        outbox: leaseMs === null ? UNCLAIMED : { lockedUntil: new Date(Date.now() + leaseMs), attempts: 1 },
        at: new Date(),
      };
    });
    const written = await writeCreates(db, writes, createQueryRunner(t.database.handle));
    expect(written.filter(Boolean)).toHaveLength(count);
    return written.map((w) => w!);
  }

  const claimOf = ({ session, message }: WrittenInitiation): ClaimedMessage => claimOfQueued({ ...toQueuedMessage(session, message!), lockedUntil: message!.locked_until! });

  const row = (id: string) =>
    db.selectFrom('messages').select(['status', 'attempts', 'locked_until', 'error']).where('id', '=', id).executeTakeFirstOrThrow();

  /** Waits until the message is back in the outbox, unclaimed. */
  const givenBack = (id: string) =>
    waitUntil(
      async () => {
        const r = await row(id);
        return r.locked_until === null ? r : undefined;
      },
      { what: `message ${id} to be given back` },
    );

  beforeAll(async () => {
    t = await createTestApp();
    db = t.database.handle.db;
  });
  afterAll(() => t.close());
  // Each test starts with an empty outbox, so that a started dispatcher finds nothing of earlier tests.
  beforeEach(async () => {
    sends = [];
    await db.updateTable('messages').set({ status: 'failed', locked_until: null }).where('status', '=', 'queued').execute();
  });
  afterEach(async () => {
    await Promise.all(dispatchers.splice(0).map((d) => d.stop({ graceMs: 100 })));
  });

  it('offers no lease while the dispatcher is not running, and its own lease while it runs', async () => {
    const d = dispatcher({ leaseMs: 30_000 });
    const liveChatId = crypto.randomUUID();
    expect(d.leaseForNewMessage(liveChatId)).toBeNull();
    d.start();
    expect(d.leaseForNewMessage(liveChatId)).toBe(30_000);
    await d.stop();
    expect(d.leaseForNewMessage(liveChatId)).toBeNull();
  });

  it('gives a message handed to a dispatcher that was never started back to the outbox', async () => {
    const [written] = await queue(1, 60_000);
    expect(await row(written!.message!.id)).toMatchObject({ status: 'queued', attempts: 1, locked_until: expect.any(Date) });

    dispatcher().handOver(claimOf(written!));

    expect(await givenBack(written!.message!.id)).toMatchObject({ status: 'queued', attempts: 0, locked_until: null, error: null });
    expect(sends).toEqual([]);
    // Any dispatcher may claim it now, and it counts as its first attempt.
    const claimed = await claimDueMessages(db, { limit: 10, leaseMs: 60_000, expiredLeases: false });
    expect(claimed.map((c) => [c.id, c.attempts])).toEqual([[written!.message!.id, 1]]);
  });

  it('gives a message handed to a stopped dispatcher back to the outbox', async () => {
    const [written] = await queue(1, 60_000);
    const d = dispatcher();
    d.start();
    await d.stop();

    d.handOver(claimOf(written!));

    expect(await givenBack(written!.message!.id)).toMatchObject({ status: 'queued', attempts: 0 });
    expect(sends).toEqual([]);
  });

  it('offers no lease when handed-over messages fill its backlog, and gives back those that had not started when it stops', async () => {
    const written = await queue(4, 60_000);
    const d = dispatcher({ concurrency: 1 });
    d.start();
    const liveChatId = written[0]!.session.live_chat_id;
    expect(d.leaseForNewMessage(liveChatId)).not.toBeNull();

    for (const w of written) d.handOver(claimOf(w));

    // One in flight (its provider never answers), three waiting: 4 × concurrency, the backlog is full.
    await waitUntil(() => sends.length === 1, { what: 'the first handed-over message to be sent' });
    expect(sends).toEqual([written[0]!.message!.id]);
    expect(d.leaseForNewMessage(liveChatId)).toBeNull();

    await d.stop({ graceMs: 50 });

    // The waiting ones were never tried: back in the outbox, the attempt uncounted.
    for (const w of written.slice(1)) expect(await row(w.message!.id)).toMatchObject({ status: 'queued', attempts: 0, locked_until: null, error: null });
    // The one in flight was cancelled by the shutdown: queued again for any dispatcher, its attempt counted.
    expect(await row(written[0]!.message!.id)).toMatchObject({ status: 'queued', attempts: 1, locked_until: null, error: { code: 'aborted' } });
    expect(sends).toHaveLength(1);
  });

  it('gives back a waiting handed-over message whose lease has run too low, and starts the next one', async () => {
    const [a, b, c] = await queue(3, 60_000);
    // B's lease now ends in 3 s: less than the provider timeout (1 s) and the margin (5 s).
    const [shortLease] = await sql<{ locked_until: Date }>`
      UPDATE messages SET locked_until = date_trunc('milliseconds', now() + interval '3 seconds') WHERE id = ${b!.message!.id} RETURNING locked_until
    `.execute(db).then((r) => r.rows);
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    // The first call answers when released; later ones hold their slot until shutdown, so that
    // the dispatcher has no room to claim B again before the test looks at it.
    const client: ChannelClient = {
      send: async (liveChat, message, signal) => {
        if (sends.length > 0) return hangingClient.send(liveChat, message, signal);
        sends.push(message.id);
        await firstHeld;
        return sent(`provider-${message.id}`, message.to);
      },
    };
    const d = dispatcher({ concurrency: 1, channels: channelRegistryOf({ whatsapp: client, telegram: client, email: client }) });
    d.start();

    d.handOver(claimOf(a!));
    d.handOver({ ...claimOf(b!), lockedUntil: shortLease!.locked_until });
    d.handOver(claimOf(c!));
    await waitUntil(() => sends.length === 1, { what: 'the first message to be sent' });
    releaseFirst();

    await waitUntil(() => sends.length === 2, { what: 'the third message to be sent' });
    expect(sends).toEqual([a!.message!.id, c!.message!.id]);
    expect(await givenBack(b!.message!.id)).toMatchObject({ status: 'queued', attempts: 0, locked_until: null });
  });

  describe('claimDueMessages', () => {
    const LEASE_MS = 60_000;
    const expire = (id: string) => sql`UPDATE messages SET locked_until = date_trunc('milliseconds', now() - interval '1 second') WHERE id = ${id}`.execute(db);

    it('never claims a message whose lease has not run out', async () => {
      const [leased] = await queue(1, LEASE_MS);
      const before = await row(leased!.message!.id);

      expect(await claimDueMessages(db, { limit: 10, leaseMs: LEASE_MS, expiredLeases: true })).toEqual([]);
      expect(await claimDueMessages(db, { limit: 10, leaseMs: LEASE_MS, expiredLeases: false })).toEqual([]);
      expect(await claimDueMessages(db, { limit: 10, leaseMs: LEASE_MS })).toEqual([]);
      expect(await row(leased!.message!.id)).toEqual(before);
    });

    it('claims a ready message with or without expiredLeases', async () => {
      const [a, b] = await queue(2, null);

      const first = await claimDueMessages(db, { limit: 1, leaseMs: LEASE_MS, expiredLeases: false });
      const second = await claimDueMessages(db, { limit: 1, leaseMs: LEASE_MS, expiredLeases: true });

      expect([...first, ...second].map((c) => c.id).sort()).toEqual([a!.message!.id, b!.message!.id].sort());
      expect([...first, ...second].map((c) => c.attempts)).toEqual([1, 1]);
      for (const c of [...first, ...second]) expect(c.lockedUntil.getTime()).toBeGreaterThan(Date.now() + LEASE_MS / 2);
    });

    it('claims a message whose lease ran out only when asked for expired leases (the default)', async () => {
      const [ready, expired, leased] = [...(await queue(1, null)), ...(await queue(1, LEASE_MS)), ...(await queue(1, LEASE_MS))];
      await expire(expired!.message!.id);
      const expiredBefore = await row(expired!.message!.id);

      // Without expired leases: only the ready one.
      const withoutExpired = await claimDueMessages(db, { limit: 10, leaseMs: LEASE_MS, expiredLeases: false });
      expect(withoutExpired.map((c) => c.id)).toEqual([ready!.message!.id]);
      expect(await row(expired!.message!.id)).toEqual(expiredBefore);
      expect(await claimDueMessages(db, { limit: 10, leaseMs: LEASE_MS, expiredLeases: false })).toEqual([]);

      // With them: the expired one, as a second attempt under a new lease; never the leased one.
      const withExpired = await claimDueMessages(db, { limit: 10, leaseMs: LEASE_MS, expiredLeases: true });
      expect(withExpired.map((c) => [c.id, c.attempts])).toEqual([[expired!.message!.id, 2]]);
      expect(withExpired[0]!.lockedUntil.getTime()).toBeGreaterThan(Date.now() + LEASE_MS / 2);
      expect(await row(expired!.message!.id)).toMatchObject({ attempts: 2, locked_until: withExpired[0]!.lockedUntil });
      expect(await claimDueMessages(db, { limit: 10, leaseMs: LEASE_MS, expiredLeases: true })).toEqual([]);
      expect(await row(leased!.message!.id)).toMatchObject({ attempts: 1, locked_until: leased!.message!.locked_until });

      // expiredLeases defaults to true.
      const [another] = await queue(1, LEASE_MS);
      await expire(another!.message!.id);
      expect((await claimDueMessages(db, { limit: 10, leaseMs: LEASE_MS })).map((c) => c.id)).toEqual([another!.message!.id]);
    });

    it('does not claim more than the limit from ready and expired messages together', async () => {
      const ready = await queue(2, null);
      const expired = await queue(2, LEASE_MS);
      for (const e of expired) await expire(e.message!.id);

      const claimed = await claimDueMessages(db, { limit: 3, leaseMs: LEASE_MS, expiredLeases: true });

      expect(claimed).toHaveLength(3);
      const all = [...ready, ...expired].map((w) => w.message!.id);
      expect(claimed.every((c) => all.includes(c.id))).toBe(true);
      expect(new Set(claimed.map((c) => c.id)).size).toBe(3);
    });
  });
});
