import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPhone } from '../support/fixtures.js';
import { waitUntil } from '../support/http-stand-in.js';
import { type FaultDatabase, createFaultDatabase } from './fault-database.js';
import { request } from './http-client.js';
import { PrivatePostgres, privatePostgresUnavailable } from './private-postgres.js';
import { ServiceProcess, stopAllServices } from './service-process.js';
import { FaultyWhatsApp } from './whatsapp-provider.js';
import { type Chat, type Outcome, initiateSession, nextLabel, runLoad, storedSessions, tally, whatsAppLiveChat } from './workload.js';

// Postgres goes away under a steady stream of POST /sessions from a real service process. The
// server is a private one (its own cluster and port), so crashing it disturbs nothing else.

const unavailable = privatePostgresUnavailable();
if (unavailable) console.warn(`[faults] skipping the Postgres restart tests: ${unavailable}`);

const CONCURRENCY = 4;
/** How long Postgres stays down. */
const OUTAGE_MS = 3_000;

describe.skipIf(unavailable !== null)('Postgres restarted during a stream of POST /sessions', () => {
  let postgres: PrivatePostgres;
  let database: FaultDatabase;
  let provider: FaultyWhatsApp;
  let service: ServiceProcess;
  let chat: Chat;

  beforeAll(async () => {
    provider = await FaultyWhatsApp.start();
    postgres = await PrivatePostgres.start();
    database = await createFaultDatabase(postgres);
    service = await ServiceProcess.start({
      databaseUrl: database.url,
      whatsappApiBaseUrl: provider.url,
      // A short provider timeout makes the delivery lease short (3 × timeout + 5 s): a claim
      // whose answer the crash swallowed is taken again sooner.
      env: { PROVIDER_TIMEOUT_MS: '2000', DELIVERY_RETRY_BASE_MS: '200', DELIVERY_RETRY_MAX_MS: '2000' },
    });
    chat = await whatsAppLiveChat(service.url);
  });

  afterAll(async () => {
    await stopAllServices();
    await database?.drop();
    await postgres?.destroy();
    await provider?.close();
  });

  const readiness = () => request(service.url, 'GET', '/readyz', undefined, { key: null, timeoutMs: 10_000 });

  /**
   * Streams POST /sessions (new person each, with a first message) through an outage: some
   * sessions before it, the outage itself (seen by requests and by /readyz), then recovery
   * without any help, shown by sessions created again. Returns every request's outcome.
   */
  async function streamThroughOutage(prefix: string, outage: { begin(): Promise<void>; end(): Promise<void> }): Promise<Outcome[]> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const outcomes: Outcome[] = [];
    let stop = false;
    const created = (from: number) => outcomes.slice(from).filter((o) => o.status === 201).length;
    const load = runLoad({ concurrency: CONCURRENCY, outcomes, stop: () => stop, send: () => initiateSession(service.url, chat, { label: nextLabel(prefix), agent }) });
    try {
      await waitUntil(() => created(0) >= 20, { timeoutMs: 30_000, what: 'sessions before the outage' });

      const down = outcomes.length;
      await outage.begin();
      await waitUntil(() => outcomes.slice(down).filter((o) => o.status === 503).length >= 5, { timeoutMs: 30_000, what: `503s during the outage (${JSON.stringify(tally(outcomes.slice(down)))})` });
      const notReady = await waitUntil(async () => {
        const r = await readiness();
        return r.status === 503 ? r : undefined;
      }, { timeoutMs: 15_000, what: '/readyz to report the outage' });
      expect(notReady.data).toMatchObject({ status: 503, code: 'database_unavailable' });
      expect(notReady.headers['content-type']).toMatch(/^application\/problem\+json/);
      await sleep(OUTAGE_MS);
      expect((await readiness()).status).toBe(503);

      await outage.end();
      const up = outcomes.length;
      await waitUntil(async () => (await readiness()).status === 200, { timeoutMs: 30_000, what: '/readyz to recover' });
      await waitUntil(() => created(up) >= 20, { timeoutMs: 30_000, what: `sessions after the restart (${JSON.stringify(tally(outcomes.slice(up)))})` });
    } finally {
      stop = true;
      await load;
      agent.destroy();
    }
    return outcomes;
  }

  /** Every request was answered; nothing but 201 and 503 database_unavailable; every 201 is stored with its message, which goes out once. */
  async function expectNothingLost(prefix: string, outcomes: Outcome[]): Promise<void> {
    const summary = JSON.stringify(tally(outcomes));
    // Never a hang, never a dropped connection: the process stayed up throughout.
    expect(outcomes.filter((o) => o.noResponse), summary).toEqual([]);
    expect(service.exit, service.output()).toBeNull();
    for (const o of outcomes.filter((x) => x.status !== 201)) {
      expect({ status: o.status, code: o.code }, summary).toEqual({ status: 503, code: 'database_unavailable' });
      expect(o.contentType).toMatch(/^application\/problem\+json/);
      expect(o.retryAfter).toBeTruthy();
    }
    const accepted = outcomes.filter((o) => o.status === 201);
    expect(outcomes.length - accepted.length, summary).toBeGreaterThan(0);

    const stored = [...(await storedSessions(database.handle, chat.liveChatId)).values()].filter((s) => s.messages[0]?.label?.startsWith(`${prefix}-`));
    const byId = new Map(stored.map((s) => [s.id, s]));
    for (const o of accepted) {
      const session = byId.get(o.sessionId!);
      expect(session, `201 ${o.sessionId} (${o.label}) is not in the database`).toBeDefined();
      expect(session!.status).toBe('open');
      expect(session!.messages.map((m) => m.label)).toEqual([o.label]);
    }
    // No half-written session: each one that exists (a 503 whose commit landed included) has its message.
    for (const session of stored) expect(session.messages, session.id).toHaveLength(1);

    // The dispatcher recovers by itself too: every stored message goes out, and only once.
    const labels = stored.map((s) => s.messages[0]!.label!);
    await waitUntil(
      async () => {
        const now = [...(await storedSessions(database.handle, chat.liveChatId)).values()].filter((s) => labels.includes(s.messages[0]?.label ?? ''));
        return now.every((s) => s.messages[0]!.status === 'sent') || undefined;
      },
      { timeoutMs: 60_000, what: 'every message to be sent after the restart' },
    );
    const duplicates = labels.filter((label) => provider.acceptedCount(label) !== 1);
    expect(duplicates.map((label) => `${label}×${provider.acceptedCount(label)}`)).toEqual([]);
  }

  it('crash (immediate stop): 503 database_unavailable while down, /readyz says so, recovers by itself, every 201 stored', async () => {
    const outcomes = await streamThroughOutage('crash', {
      begin: () => postgres.stopServer('immediate'),
      end: () => postgres.startServer(),
    });
    await expectNothingLost('crash', outcomes);
  });

  it('orderly restart (fast stop): the same, with connections terminated by the server', async () => {
    const outcomes = await streamThroughOutage('restart', {
      begin: () => postgres.stopServer('fast'),
      end: () => postgres.startServer(),
    });
    await expectNothingLost('restart', outcomes);
  });

  it('Postgres stops answering (frozen): requests held on its connections end in 503 within the query timeout, never hang', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const outcomes: Outcome[] = [];
    const inFlight = new Set<string>();
    let stop = false;
    // No first message here: this is about requests, and a delivery whose outcome cannot be
    // written for longer than its lease is retried by design.
    const send = async () => {
      const label = nextLabel('frozen');
      inFlight.add(label);
      // The client's own deadline only tells a hang from an answer; the service must answer well before.
      const outcome = await initiateSessionWithoutMessage(label, agent);
      inFlight.delete(label);
      return outcome;
    };
    const created = (from: number) => outcomes.slice(from).filter((o) => o.status === 201).length;
    const load = runLoad({ concurrency: CONCURRENCY, outcomes, stop: () => stop, send });
    try {
      await waitUntil(() => created(0) >= 10, { timeoutMs: 30_000, what: 'sessions before the freeze' });
      const frozenAt = outcomes.length;
      await postgres.freeze();
      try {
        const notReady = await waitUntil(async () => {
          const r = await readiness();
          return r.status === 503 ? r : undefined;
        }, { timeoutMs: 15_000, what: '/readyz to report the frozen database' });
        expect(notReady.data.code).toBe('database_unavailable');
        // By the first refusal, the workers are waiting on the frozen server: on a pooled
        // connection it holds (no answer ever comes) or on a new one (connection timeout).
        // Every one of those requests must still be answered while it stays frozen.
        await waitUntil(() => outcomes.slice(frozenAt).some((o) => o.status === 503), { timeoutMs: 60_000, what: `a 503 while frozen (${JSON.stringify(tally(outcomes))})` });
        const waiting = [...inFlight];
        await waitUntil(() => waiting.every((label) => outcomes.some((o) => o.label === label)), {
          timeoutMs: 90_000,
          what: `answers to the requests held by the frozen database (${JSON.stringify(tally(outcomes.slice(frozenAt)))})`,
        });
      } finally {
        await postgres.thaw();
      }
      const up = outcomes.length;
      await waitUntil(async () => (await readiness()).status === 200, { timeoutMs: 60_000, what: '/readyz to recover' });
      await waitUntil(() => created(up) >= 10, { timeoutMs: 60_000, what: `sessions after the thaw (${JSON.stringify(tally(outcomes.slice(up)))})` });
    } finally {
      stop = true;
      await load;
      agent.destroy();
    }

    const summary = JSON.stringify(tally(outcomes));
    expect(outcomes.filter((o) => o.noResponse), summary).toEqual([]);
    expect(service.exit, service.output()).toBeNull();
    for (const o of outcomes.filter((x) => x.status !== 201)) {
      expect({ status: o.status, code: o.code }, summary).toEqual({ status: 503, code: 'database_unavailable' });
    }
    const stored = await storedSessions(database.handle, chat.liveChatId);
    for (const o of outcomes.filter((x) => x.status === 201)) expect(stored.has(o.sessionId!), `201 ${o.sessionId} is not in the database`).toBe(true);
  });

  /** POST /sessions for a new person without a first message; the client waits up to 60 s. */
  async function initiateSessionWithoutMessage(label: string, agent: http.Agent): Promise<Outcome> {
    const phone = newPhone();
    const sentAt = Date.now();
    const base = { label, phone, target: service.url, sentAt, contentType: null, retryAfter: null, existingSessionId: null };
    try {
      const r = await request(service.url, 'POST', '/sessions', { liveChatId: chat.liveChatId, operatorId: chat.operatorId, contact: { name: label, phones: [phone] } }, { agent, timeoutMs: 60_000 });
      return { ...base, status: r.status, code: r.data?.code ?? null, sessionId: r.status === 201 ? r.data.id : null, noResponse: null };
    } catch (error) {
      return { ...base, status: null, code: null, sessionId: null, noResponse: (error as { code?: string }).code ?? 'ERROR' };
    }
  }
});
