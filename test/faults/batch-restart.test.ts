import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPhone } from '../support/fixtures.js';
import { waitUntil } from '../support/http-stand-in.js';
import { type FaultDatabase, createFaultDatabase, faultDatabaseUnavailable } from './fault-database.js';
import { request } from './http-client.js';
import { ServiceProcess, stopAllServices } from './service-process.js';
import { FaultyWhatsApp } from './whatsapp-provider.js';
import { type Chat, whatsAppLiveChat } from './workload.js';

// A service process killed (SIGKILL: no shutdown at all) in the middle of a session batch, and
// another started on the same database: the batch resumes and ends with every recipient
// initiated exactly once.

const unavailable = faultDatabaseUnavailable();
if (unavailable) console.warn(`[faults] skipping the batch restart test: ${unavailable}`);

const RECIPIENTS = 3_000;

describe.skipIf(unavailable !== null)('a replica killed mid-batch', () => {
  let database: FaultDatabase;
  let provider: FaultyWhatsApp;
  let chat: Chat;

  beforeAll(async () => {
    provider = await FaultyWhatsApp.start();
    database = await createFaultDatabase();
  });
  afterAll(async () => {
    await stopAllServices();
    await database?.drop();
    await provider?.close();
  });

  const count = async (query: ReturnType<typeof sql<{ n: number }>>) => Number((await query.execute(database.handle.db)).rows[0]!.n);

  it('leaves nothing half-done: another replica resumes, and no recipient is initiated twice', async () => {
    // Small chunks and a short lease, so that the kill lands mid-batch and the claims it left run out soon.
    const env = { BATCH_CHUNK_SIZE: '25', BATCH_LEASE_MS: '2000', DISPATCHER_ENABLED: 'false' };
    const first = await ServiceProcess.start({ databaseUrl: database.url, whatsappApiBaseUrl: provider.url, env });
    chat = await whatsAppLiveChat(first.url);
    const phones = Array.from({ length: RECIPIENTS }, () => newPhone());
    const recipients = phones.map((phone, i) => ({ contact: { name: `R${i}` }, account: phone, reference: `r-${i}` }));
    const accepted = await request(first.url, 'POST', '/session-batches', {
      liveChatId: chat.liveChatId,
      operatorId: chat.operatorId,
      message: { template: { name: 'recall_notice', language: 'en_US' } },
      recipients,
    });
    expect(accepted.status, accepted.body).toBe(202);
    const batchId = accepted.data.id as string;

    // Killed once some, but not all, recipients have sessions.
    await waitUntil(async () => (await count(sql<{ n: number }>`SELECT count(*)::integer AS n FROM batch_recipients WHERE batch_id = ${batchId} AND outcome = 'created'`)) >= 200 || undefined, {
      what: 'the batch to be under way',
      timeoutMs: 60_000,
    });
    first.signal('SIGKILL');
    await first.exited;
    const before = await count(sql<{ n: number }>`SELECT count(*)::integer AS n FROM batch_recipients WHERE batch_id = ${batchId} AND outcome = 'created'`);
    expect(before).toBeLessThan(RECIPIENTS);

    const second = await ServiceProcess.start({ databaseUrl: database.url, whatsappApiBaseUrl: provider.url, env });
    const done = await waitUntil(
      async () => {
        const batch = await request(second.url, 'GET', `/session-batches/${batchId}`);
        return batch.data.status === 'done' ? batch.data : undefined;
      },
      { what: 'the batch to finish after the restart', timeoutMs: 120_000 },
    );
    expect(done.counts).toEqual({ pending: 0, created: RECIPIENTS, refused: 0, canceled: 0 });

    // Exactly once: one session per recipient, each recipient's session is its own, one first message each.
    expect(await count(sql<{ n: number }>`SELECT count(*)::integer AS n FROM sessions WHERE live_chat_id = ${chat.liveChatId}`)).toBe(RECIPIENTS);
    expect(await count(sql<{ n: number }>`SELECT count(DISTINCT session_id)::integer AS n FROM batch_recipients WHERE batch_id = ${batchId}`)).toBe(RECIPIENTS);
    expect(await count(sql<{ n: number }>`SELECT count(*)::integer AS n FROM messages WHERE live_chat_id = ${chat.liveChatId}`)).toBe(RECIPIENTS);
    const mismatched = await count(sql<{ n: number }>`
      SELECT count(*)::integer AS n FROM batch_recipients AS r JOIN sessions AS s ON s.id = r.session_id
      WHERE r.batch_id = ${batchId} AND s.account <> r.input->>'account'`);
    expect(mismatched).toBe(0);
    expect(await count(sql<{ n: number }>`SELECT count(*)::integer AS n FROM events WHERE live_chat_id = ${chat.liveChatId} AND type = 'batch.completed'`)).toBe(1);
  });
});
