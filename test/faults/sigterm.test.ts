import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../support/http-stand-in.js';
import { type FaultDatabase, createFaultDatabase, faultDatabaseUnavailable } from './fault-database.js';
import { HeldRequest } from './held-request.js';
import { NoResponse, request } from './http-client.js';
import { ServiceProcess, stopAllServices } from './service-process.js';
import { FaultyWhatsApp, labelOf, labelledTemplate } from './whatsapp-provider.js';
import { type Chat, type Outcome, initiateSession, nextLabel, runLoad, storedSessions, tally, whatsAppLiveChat } from './workload.js';

// SIGTERM to a real service process in the middle of a load of POST /sessions, with deliveries
// in flight at a slow provider: the graceful shutdown of src/server.ts (close-with-grace).

const unavailable = faultDatabaseUnavailable();
if (unavailable) console.warn(`[faults] skipping the SIGTERM tests: ${unavailable}`);

const CONCURRENCY = 8;

describe.skipIf(unavailable !== null)('SIGTERM during load', () => {
  let database: FaultDatabase;
  let provider: FaultyWhatsApp;
  let service: ServiceProcess;
  let chat: Chat;
  const held: HeldRequest[] = [];

  beforeAll(async () => {
    provider = await FaultyWhatsApp.start();
    // Every send takes a while, so deliveries are in flight when the signal comes.
    provider.latencyMs = 1_500;
    database = await createFaultDatabase();
    service = await ServiceProcess.start({ databaseUrl: database.url, whatsappApiBaseUrl: provider.url, env: { PROVIDER_TIMEOUT_MS: '5000' } });
    chat = await whatsAppLiveChat(service.url);
  });

  afterAll(async () => {
    for (const h of held) h.destroy();
    await stopAllServices();
    await database?.drop();
    await provider?.close();
  });

  it('refuses new connections, finishes what is in flight, applies every answered request fully, and exits 0', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const outcomes: Outcome[] = [];
    const load = runLoad({
      concurrency: CONCURRENCY,
      outcomes,
      stop: () => false,
      endOnNoResponse: true,
      send: () => initiateSession(service.url, chat, { label: nextLabel('load'), agent }),
    });

    // A request whose body is still arriving, and a readiness probe whose headers are: both
    // hold a busy connection across the signal.
    const heldLabel = nextLabel('held');
    const heldSession = HeldRequest.withBody('POST', '/sessions', {
      liveChatId: chat.liveChatId,
      operatorId: chat.operatorId,
      contact: { name: 'Held', phones: ['+4915199887766'] },
      message: labelledTemplate(heldLabel),
    });
    const heldProbe = HeldRequest.withUnfinishedHead('GET', '/readyz');
    held.push(heldSession, heldProbe);

    await waitUntil(() => outcomes.filter((o) => o.status === 201).length >= 40 && provider.pending > 0, {
      timeoutMs: 30_000,
      what: 'a load with deliveries in flight',
    });
    await heldSession.start(service.port);
    await heldProbe.start(service.port);
    // Let the server read what was sent (a connection counts as busy once a request has begun).
    await request(service.url, 'GET', '/healthz', undefined, { key: null });
    await sleep(100);
    const acceptedBefore = new Set(provider.accepted);
    const inFlightDeliveries = provider.requests.filter((r) => !acceptedBefore.has(r)).map((r) => labelOf(r)!);
    expect(inFlightDeliveries.length).toBeGreaterThan(0);

    service.signal('SIGTERM');

    // New connections are refused at once.
    const refused = await waitUntil(
      () =>
        request(service.url, 'GET', '/healthz', undefined, { timeoutMs: 5_000 }).then(
          () => undefined,
          (error: unknown) => (error instanceof NoResponse ? error.code : undefined),
        ),
      { timeoutMs: 10_000, what: 'new connections to be refused' },
    );
    expect(['ECONNREFUSED', 'ECONNRESET']).toContain(refused);

    // Readiness, asked on a connection that was already busy: 503 shutting_down.
    const readiness = await heldProbe.finish();
    expect(readiness.status).toBe(503);
    expect(readiness.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(readiness.data).toMatchObject({ status: 503, code: 'shutting_down' });
    expect(readiness.headers.connection).toBe('close');

    // The request in flight finishes normally, and its connection is closed after it.
    const finished = await heldSession.finish();
    expect(finished.status, finished.body).toBe(201);
    expect(finished.headers.connection).toBe('close');

    const exit = await waitUntil(() => service.exit ?? undefined, { timeoutMs: 40_000, what: 'the process to exit' });
    expect(exit, service.output()).toEqual({ code: 0, signal: null });
    await load;
    agent.destroy();

    // Every response is a success or a clean refusal; no request hung.
    const summary = JSON.stringify(tally(outcomes));
    for (const o of outcomes) {
      if (o.noResponse) expect(['ECONNREFUSED', 'ECONNRESET', 'EPIPE'], summary).toContain(o.noResponse);
      else if (o.status !== 201) {
        expect({ status: o.status, code: o.code }, summary).toEqual({ status: 503, code: 'shutting_down' });
        expect(o.contentType).toMatch(/^application\/problem\+json/);
      }
    }

    // Every 201 was fully applied: the session with its message, queued or already sent.
    const stored = await storedSessions(database.handle, chat.liveChatId);
    const byLabel = new Map([...stored.values()].map((s) => [s.messages[0]?.label ?? '', s]));
    const answered = [...outcomes.filter((o) => o.status === 201), { label: heldLabel, sessionId: finished.data.id as string }];
    for (const o of answered) {
      const session = stored.get(o.sessionId!);
      expect(session, `201 ${o.sessionId} is not in the database`).toBeDefined();
      expect(session!.messages.map((m) => [m.label, ['queued', 'sent'].includes(m.status)])).toEqual([[o.label, true]]);
    }
    // A refusal changed nothing; no session is half written.
    for (const o of outcomes.filter((x) => x.status === 503)) expect(byLabel.has(o.label), o.label).toBe(false);
    for (const session of stored.values()) expect(session.messages, session.id).toHaveLength(1);

    // Deliveries in flight at the signal finished and were recorded; nothing is left claimed by
    // the process that exited; nothing went out twice.
    for (const label of inFlightDeliveries) {
      expect(provider.acceptedCount(label), label).toBe(1);
      expect(byLabel.get(label)?.messages[0]?.status, label).toBe('sent');
    }
    const claimed = await sql<{ n: number }>`SELECT count(*)::int AS n FROM messages WHERE status = 'queued' AND locked_until > now()`.execute(database.handle.db);
    expect(claimed.rows[0]!.n).toBe(0);
    const sentLabels = [...stored.values()].filter((s) => s.messages[0]!.status === 'sent').map((s) => s.messages[0]!.label!);
    expect(sentLabels.filter((label) => provider.acceptedCount(label) !== 1)).toEqual([]);
    expect(provider.accepted.length).toBe(sentLabels.length);
  });

  it('leaves nothing behind: a new process delivers every message still queued, each exactly once', async () => {
    provider.latencyMs = 0;
    const next = await ServiceProcess.start({ databaseUrl: database.url, whatsappApiBaseUrl: provider.url });
    const labels = [...(await storedSessions(database.handle, chat.liveChatId)).values()].map((s) => s.messages[0]!.label!);
    await waitUntil(
      async () => {
        const sessions = [...(await storedSessions(database.handle, chat.liveChatId)).values()];
        return sessions.every((s) => s.messages[0]!.status === 'sent') || undefined;
      },
      { timeoutMs: 60_000, what: 'every queued message to be sent by the new process' },
    );
    expect(labels.filter((label) => provider.acceptedCount(label) !== 1)).toEqual([]);
    expect(await next.kill()).toEqual({ code: 0, signal: null });
  });
});
