import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPhone } from '../support/fixtures.js';
import { waitUntil } from '../support/http-stand-in.js';
import { type FaultDatabase, createFaultDatabase, faultDatabaseUnavailable } from './fault-database.js';
import { request } from './http-client.js';
import { ServiceProcess, stopAllServices } from './service-process.js';
import { FaultyWhatsApp, labelledTemplate } from './whatsapp-provider.js';
import { type Chat, initiateSession, nextLabel, storedSessions, whatsAppLiveChat } from './workload.js';

// Two replicas of the service on one Postgres, with requests spread across both: the rules
// that must hold across processes (one open session per person, each message sent once) rest
// on the database alone.

const unavailable = faultDatabaseUnavailable();
if (unavailable) console.warn(`[faults] skipping the two-process tests: ${unavailable}`);

describe.skipIf(unavailable !== null)('two service processes on one Postgres', () => {
  let database: FaultDatabase;
  let provider: FaultyWhatsApp;
  let services: ServiceProcess[];
  let chat: Chat;
  const agents = [0, 1].map(() => new http.Agent({ keepAlive: true, maxSockets: 25 }));

  beforeAll(async () => {
    provider = await FaultyWhatsApp.start();
    // A send takes a moment, so both dispatchers have deliveries in flight at once.
    provider.latencyMs = 10;
    database = await createFaultDatabase();
    // Started together: their migrations race too (an advisory lock serialises them).
    services = await Promise.all([0, 1].map(() => ServiceProcess.start({ databaseUrl: database.url, whatsappApiBaseUrl: provider.url })));
    chat = await whatsAppLiveChat(services[0]!.url);
  });

  afterAll(async () => {
    for (const agent of agents) agent.destroy();
    await stopAllServices();
    await database?.drop();
    await provider?.close();
  });

  it('lets exactly one of 50 concurrent requests for one person through, 25 to each process', async () => {
    const phone = newPhone();
    const label = nextLabel('race');
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => initiateSession(services[i % 2]!.url, chat, { label: `${label}-${i}`, phone, agent: agents[i % 2] })),
    );
    const winners = outcomes.filter((o) => o.status === 201);
    expect(winners, JSON.stringify(outcomes.map((o) => o.status))).toHaveLength(1);
    const winner = winners[0]!;
    const losers = outcomes.filter((o) => o !== winner);
    expect(losers.map((o) => [o.status, o.code])).toEqual(losers.map(() => [409, 'session_already_open']));
    // Losers on both processes name the winner.
    for (const target of services.map((s) => s.url)) expect(losers.some((o) => o.target === target)).toBe(true);
    expect(new Set(losers.map((o) => o.existingSessionId))).toEqual(new Set([winner.sessionId]));

    const open = await sql<{ n: number }>`SELECT count(*)::int AS n FROM sessions WHERE live_chat_id = ${chat.liveChatId} AND account = ${phone} AND status = 'open'`.execute(database.handle.db);
    expect(open.rows[0]!.n).toBe(1);
    const contacts = await sql<{ n: number }>`SELECT count(*)::int AS n FROM contacts WHERE ${phone}::text = ANY(phones)`.execute(database.handle.db);
    expect(contacts.rows[0]!.n).toBe(1);
    const stored = await storedSessions(database.handle, chat.liveChatId);
    expect(stored.get(winner.sessionId!)?.messages.map((m) => m.label)).toEqual([winner.label]);
    await waitUntil(() => provider.acceptedCount(winner.label) === 1, { timeoutMs: 20_000, what: 'the winner’s message to be sent' });
    await sleep(500);
    expect(provider.accepted.filter((r) => String(r.body?.to).replace('+', '') === phone.replace('+', ''))).toHaveLength(1);
  });

  it('has both dispatchers share the outbox without sending any message twice', async () => {
    const SESSIONS = 40;
    const FOLLOW_UPS = 3;
    const labels: string[] = [];
    const sentBefore = await Promise.all(services.map(deliveriesSent));

    // Sessions opened through both processes, eight at a time.
    const sessions: { sessionId: string; via: number }[] = [];
    for (let batch = 0; batch < SESSIONS; batch += 8) {
      const opened = await Promise.all(
        Array.from({ length: 8 }, async (_, k) => {
          const via = (batch + k) % 2;
          const label = nextLabel('spread');
          const outcome = await initiateSession(services[via]!.url, chat, { label, agent: agents[via] });
          expect(outcome.status).toBe(201);
          labels.push(label);
          return { sessionId: outcome.sessionId!, via };
        }),
      );
      sessions.push(...opened);
    }
    // Follow-ups queued through the other process than the one that opened the session.
    for (let m = 0; m < FOLLOW_UPS; m++) {
      await Promise.all(
        sessions.map(async (session) => {
          const via = 1 - session.via;
          const label = nextLabel('follow');
          const queued = await request(services[via]!.url, 'POST', `/sessions/${session.sessionId}/messages`, { operatorId: chat.operatorId, ...labelledTemplate(label) }, { agent: agents[via] });
          expect(queued.status, queued.body).toBe(202);
          labels.push(label);
        }),
      );
    }

    const total = SESSIONS * (1 + FOLLOW_UPS);
    await waitUntil(
      async () => {
        const messages = [...(await storedSessions(database.handle, chat.liveChatId)).values()].flatMap((s) => s.messages).filter((m) => labels.includes(m.label!));
        return (messages.length === total && messages.every((m) => m.status === 'sent')) || undefined;
      },
      { timeoutMs: 60_000, what: `all ${total} messages to be sent` },
    );
    expect(labels.filter((label) => provider.acceptedCount(label) !== 1)).toEqual([]);
    // Every attempt went to the provider once: no message needed a second claim.
    const messages = [...(await storedSessions(database.handle, chat.liveChatId)).values()].flatMap((s) => s.messages).filter((m) => labels.includes(m.label!));
    expect(messages.filter((m) => m.attempts !== 1)).toEqual([]);
    // Both dispatchers took part.
    const sentAfter = await Promise.all(services.map(deliveriesSent));
    const byProcess = sentAfter.map((n, i) => n - sentBefore[i]!);
    expect(byProcess[0]! + byProcess[1]!).toBe(total);
    expect(Math.min(...byProcess), JSON.stringify(byProcess)).toBeGreaterThan(0);
  });
});

/** deliveries_total{outcome="sent"} of one process, from its /metrics. */
async function deliveriesSent(service: ServiceProcess): Promise<number> {
  const metrics = await request(service.url, 'GET', '/metrics', undefined, { key: null });
  const line = metrics.body.split('\n').find((l) => l.startsWith('deliveries_total{') && l.includes('outcome="sent"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}
