import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BatchWorker } from '../../src/batches/worker.js';
import { type TestApp, call, createTestApp, startSecondReplica } from '../support/app.js';
import { usingPostgres } from '../support/database.js';
import { liveChatWithOperator, newPhone } from '../support/fixtures.js';
import { waitUntil } from '../support/http-stand-in.js';
import { expectFieldError, expectProblem } from '../support/problems.js';

// Session batches: the app's own worker is off (testConfig), so that each test decides when
// recipients are initiated (a worker made by the test, as every replica runs one).

let t: TestApp;
const workers: BatchWorker[] = [];
beforeAll(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});
afterAll(() => t.close());

function startWorker(options: ConstructorParameters<typeof BatchWorker>[4] = {}): BatchWorker {
  const worker = new BatchWorker(t.database.handle.db, t.app.services.initiation, t.app.services.batches, t.app.log, { pollMs: 20, ...options });
  workers.push(worker);
  worker.start();
  return worker;
}

const template = { name: 'service_notice', language: 'en_US', parameters: ['everyone'] };

/** Waits until the batch has nothing pending and returns it. */
async function finished(id: string) {
  return waitUntil(
    async () => {
      const batch = (await call(t.app, 'GET', `/session-batches/${id}`)).data;
      return batch.status !== 'running' ? batch : undefined;
    },
    { what: `batch ${id} to finish`, timeoutMs: 30_000 },
  );
}

async function allRecipients(id: string): Promise<Array<Record<string, any>>> {
  const items: Array<Record<string, any>> = [];
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof call<{ items: Array<Record<string, any>>; nextCursor: string | null }>>> = await call(t.app, 'GET', `/session-batches/${id}/recipients?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.statusCode, page.body).toBe(200);
    items.push(...page.data.items);
    cursor = page.data.nextCursor;
  } while (cursor);
  return items;
}

/** Records that people wrote to a Telegram bot, as its webhook would. */
async function peopleWrote(liveChatId: string, usernames: string[]): Promise<void> {
  const rows = JSON.stringify(usernames.map((username, i) => ({ id: String(8_000_000_000 + Math.floor(Math.random() * 1e9) + i), username: username.slice(1) })));
  await sql`
    INSERT INTO channel_contacts (live_chat_id, external_user_id, chat_id, username, first_inbound_at, last_inbound_at)
    SELECT ${liveChatId}::uuid, x.id, x.id, x.username, now(), now() FROM jsonb_to_recordset(${rows}::jsonb) AS x(id text, username text)
  `.execute(t.database.handle.db);
}

describe('POST /session-batches', () => {
  it('initiates every recipient by the checks of POST /sessions and says what became of each', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'telegram');
    const usernames = Array.from({ length: 300 }, (_, i) => `@batch_${Date.now().toString(36)}_${i}`);
    await peopleWrote(liveChatId, usernames.slice(0, 299));
    // Someone who opted out of the live chat (check 7).
    const optOut = await call(t.app, 'PUT', `/live-chats/${liveChatId}/opt-outs/${encodeURIComponent(usernames[30]!)}`, { reason: 'asked by phone' });
    expect(optOut.statusCode, optOut.body).toBe(204);
    // Someone with a session already open.
    const open = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Open' }, account: usernames[10] });
    expect(open.statusCode, open.body).toBe(201);

    const recipients = usernames.map((account, i) => ({ contact: { name: `Person ${i}` }, account, reference: `crm-${i}` }));
    // The same person twice in one batch: one session, and one 409 naming it.
    recipients.push({ contact: { name: 'Person 20 again' }, account: usernames[20]!.toUpperCase(), reference: 'crm-dup' });
    const created = await call(t.app, 'POST', '/session-batches', { liveChatId, operatorId, message: { text: 'Our shop opens late today.' }, recipients });
    expect(created.statusCode, created.body).toBe(202);
    expect(created.headers.location).toBe(`/session-batches/${created.data.id}`);
    expect(created.data).toMatchObject({ liveChatId, operatorId, status: 'running', total: 301, counts: { pending: 301, created: 0, refused: 0, canceled: 0 }, finishedAt: null });

    startWorker({ chunk: 64 });
    const batch = await finished(created.data.id);
    expect(batch).toMatchObject({ status: 'done', counts: { pending: 0, created: 297, refused: 4, canceled: 0 }, finishedAt: expect.any(String) });

    const outcomes = await allRecipients(created.data.id);
    expect(outcomes.map((r) => r.index)).toEqual(Array.from({ length: 301 }, (_, i) => i));
    const byRef = new Map(outcomes.map((r) => [r.reference, r]));
    expect(byRef.get('crm-10')).toMatchObject({ outcome: 'refused', sessionId: null, error: { status: 409, code: 'session_already_open', existingSessionId: open.data.id } });
    expect(byRef.get('crm-30')).toMatchObject({ outcome: 'refused', sessionId: null, error: { status: 422, code: 'contact_opted_out' } });
    expect(byRef.get('crm-299')).toMatchObject({ outcome: 'refused', account: usernames[299], error: { status: 422, code: 'telegram_no_prior_contact' } });
    const first = byRef.get('crm-20')!;
    expect(first).toMatchObject({ outcome: 'created', account: usernames[20], error: null });
    expect(byRef.get('crm-dup')).toMatchObject({ outcome: 'refused', error: { status: 409, code: 'session_already_open', existingSessionId: first.sessionId } });
    const session = await call(t.app, 'GET', `/sessions/${byRef.get('crm-0')!.sessionId}`);
    expect(session.data).toMatchObject({ liveChatId, operatorId, account: usernames[0], origin: 'operator', status: 'open' });
    const messages = await call(t.app, 'GET', `/sessions/${session.data.id}/messages`);
    expect(messages.data.items).toEqual([expect.objectContaining({ direction: 'outbound', text: 'Our shop opens late today.', status: 'queued' })]);
    // Every created recipient has its own session, and no other session was opened.
    const sessions = await sql<{ n: number }>`SELECT count(*)::integer AS n FROM sessions WHERE live_chat_id = ${liveChatId}`.execute(t.database.handle.db);
    expect(Number(sessions.rows[0]!.n)).toBe(298);

    const refused = await call(t.app, 'GET', `/session-batches/${created.data.id}/recipients?outcome=refused`);
    expect(refused.data.items.map((r: { reference: string }) => r.reference)).toEqual(['crm-10', 'crm-30', 'crm-299', 'crm-dup']);
    // batch.completed, once.
    const completed = await call(t.app, 'GET', `/events?liveChatId=${liveChatId}&types=batch.completed`);
    expect(completed.data.items).toHaveLength(1);
    expect(completed.data.items[0].data.batch).toEqual(batch);
  });

  it('fills each recipient’s parameters into the template', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const [a, b] = [newPhone(), newPhone()];
    const body = { liveChatId, operatorId, message: { template }, recipients: [{ contact: { name: 'A' }, account: a, parameters: ['Ann'] }, { contact: { name: 'B' }, account: b }] };
    const created = await call(t.app, 'POST', '/session-batches', body);
    startWorker();
    await finished(created.data.id);
    const [ra, rb] = await allRecipients(created.data.id);
    const templateOf = async (sessionId: string) => (await call(t.app, 'GET', `/sessions/${sessionId}/messages`)).data.items[0].template;
    expect(await templateOf(ra!.sessionId)).toEqual({ ...template, parameters: ['Ann'] });
    expect(await templateOf(rb!.sessionId)).toEqual(template);
  });

  it('refuses the whole batch for one recipient’s format error, naming it, and creates nothing', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const recipients = Array.from({ length: 20 }, () => ({ contact: { name: 'X' }, account: newPhone() }));
    recipients[17] = { contact: { name: 'X' }, account: '0151 2345678' };
    const response = await call(t.app, 'POST', '/session-batches', { liveChatId, operatorId, message: { template }, recipients });
    expectFieldError(response, '/recipients/17/account', 'invalid_phone_number');
    const batches = await sql<{ n: number }>`SELECT count(*)::integer AS n FROM session_batches WHERE live_chat_id = ${liveChatId}`.execute(t.database.handle.db);
    expect(Number(batches.rows[0]!.n)).toBe(0);
    const textWithParameters = await call(t.app, 'POST', '/session-batches', { liveChatId, operatorId, message: { text: 'Hi' }, recipients: [{ contact: { name: 'Y' }, account: newPhone(), parameters: ['p'] }] });
    expectFieldError(textWithParameters, '/recipients/0/parameters', 'parameters_without_template');
    expectFieldError(await call(t.app, 'POST', '/session-batches', { liveChatId, operatorId, message: { template }, recipients: [] }), '/recipients', 'too_few_items');
  });

  it('answers 404 for an unknown live chat or batch', async () => {
    const body = { liveChatId: '00000000-0000-4000-8000-000000000001', operatorId: 'op', message: { template }, recipients: [{ contact: { name: 'X' }, account: newPhone() }] };
    expectProblem(await call(t.app, 'POST', '/session-batches', body), 404, 'live_chat_not_found');
    expectProblem(await call(t.app, 'GET', '/session-batches/00000000-0000-4000-8000-000000000002'), 404, 'batch_not_found');
  });

  it('replays the first answer for the same Idempotency-Key: the same batch, accepted once', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const body = { liveChatId, operatorId, message: { template }, recipients: [{ contact: { name: 'Z' }, account: newPhone() }] };
    const headers = { 'idempotency-key': `batch-${Date.now()}` };
    const first = await call(t.app, 'POST', '/session-batches', body, { headers });
    const again = await call(t.app, 'POST', '/session-batches', body, { headers });
    expect(again.statusCode).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.data.id).toBe(first.data.id);
    const batches = await sql<{ n: number }>`SELECT count(*)::integer AS n FROM session_batches WHERE live_chat_id = ${liveChatId}`.execute(t.database.handle.db);
    expect(Number(batches.rows[0]!.n)).toBe(1);
    startWorker();
    expect((await finished(first.data.id)).counts).toMatchObject({ created: 1 });
  });
});

describe('the batch worker', () => {
  it('takes the oldest running batch first, each in index order, a chunk at a time', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const batchOf = async (n: number) => {
      const recipients = Array.from({ length: n }, (_, i) => ({ contact: { name: `R${i}` }, account: newPhone() }));
      const created = await call(t.app, 'POST', '/session-batches', { liveChatId, operatorId, message: { template }, recipients });
      expect(created.statusCode, created.body).toBe(202);
      return created.data.id as string;
    };
    const first = await batchOf(30);
    const second = await batchOf(30);
    const worker = new BatchWorker(t.database.handle.db, t.app.services.initiation, t.app.services.batches, t.app.log, { chunk: 20 });
    const counts = async (id: string) => (await call(t.app, 'GET', `/session-batches/${id}`)).data.counts;

    expect(await worker.runOnce()).toBe(20);
    expect(await counts(first)).toMatchObject({ created: 20, pending: 10 });
    expect(await counts(second)).toMatchObject({ created: 0, pending: 30 });
    const outcomes = (await allRecipients(first)).map((r) => [r.index, r.outcome]);
    expect(outcomes).toEqual(Array.from({ length: 30 }, (_, i) => [i, i < 20 ? 'created' : 'pending']));

    expect(await worker.runOnce()).toBe(20);
    expect(await counts(first)).toMatchObject({ created: 30, pending: 0 });
    expect(await counts(second)).toMatchObject({ created: 10, pending: 20 });
    while ((await worker.runOnce()) > 0);
    expect(await counts(second)).toMatchObject({ created: 30, pending: 0 });
  });
});

// Replicas share one Postgres; PGlite is one process's own database.
describe.skipIf(!usingPostgres)('batch workers in two replicas at once (Postgres)', () => {
  let replica: Awaited<ReturnType<typeof startSecondReplica>>;
  beforeAll(async () => {
    replica = await startSecondReplica(t);
  });
  afterAll(() => replica?.close());

  it('initiate every recipient of one batch exactly once between them, each taking chunks of it', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const created = { first: 0, second: 0 };
    const counting = (worker: keyof typeof created) => ({
      recipient(outcome: 'created' | 'refused') {
        if (outcome === 'created') created[worker] += 1;
      },
    });
    // Both look for work every 20 ms before the batch is accepted, so that both claim from the start.
    startWorker({ chunk: 20, observer: counting('first') });
    const other = new BatchWorker(replica.database.db, replica.app.services.initiation, replica.app.services.batches, replica.app.log, { pollMs: 20, chunk: 20, observer: counting('second') });
    workers.push(other);
    other.start();

    const total = 600;
    const recipients = Array.from({ length: total }, (_, i) => ({ contact: { name: `W${i}` }, account: newPhone(), reference: `w-${i}` }));
    const accepted = await call(t.app, 'POST', '/session-batches', { liveChatId, operatorId, message: { template }, recipients });
    expect(accepted.statusCode, accepted.body).toBe(202);
    const batch = await finished(accepted.data.id);

    expect(batch.counts).toEqual({ pending: 0, created: total, refused: 0, canceled: 0 });
    expect(created.first + created.second).toBe(total);
    expect(created.first).toBeGreaterThan(0);
    expect(created.second).toBeGreaterThan(0);
    // Exactly once: each recipient claimed by one worker once; one session and one first message per
    // recipient, each with the recipient's own account.
    const count = async (query: ReturnType<typeof sql<{ n: number }>>) => Number((await query.execute(t.database.handle.db)).rows[0]!.n);
    expect(await count(sql<{ n: number }>`SELECT count(*)::integer AS n FROM batch_recipients WHERE batch_id = ${batch.id} AND attempts <> 1`)).toBe(0);
    expect(await count(sql<{ n: number }>`SELECT count(*)::integer AS n FROM sessions WHERE live_chat_id = ${liveChatId}`)).toBe(total);
    expect(await count(sql<{ n: number }>`SELECT count(DISTINCT session_id)::integer AS n FROM batch_recipients WHERE batch_id = ${batch.id}`)).toBe(total);
    expect(await count(sql<{ n: number }>`SELECT count(*)::integer AS n FROM messages WHERE live_chat_id = ${liveChatId}`)).toBe(total);
    const mismatched = sql<{ n: number }>`
      SELECT count(*)::integer AS n FROM batch_recipients AS r JOIN sessions AS s ON s.id = r.session_id
      WHERE r.batch_id = ${batch.id} AND s.account <> r.input->>'account'`;
    expect(await count(mismatched)).toBe(0);
    const completed = await call(t.app, 'GET', `/events?liveChatId=${liveChatId}&types=batch.completed`);
    expect(completed.data.items).toHaveLength(1);
  });
});

describe('POST /session-batches/{id}/cancel', () => {
  it('cancels the recipients still pending, ends the batch once, and a finished batch stays as it is', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const recipients = Array.from({ length: 50 }, (_, i) => ({ contact: { name: `C${i}` }, account: newPhone() }));
    const created = await call(t.app, 'POST', '/session-batches', { liveChatId, operatorId, message: { template }, recipients });
    // Ten are initiated before the cancel comes.
    const worker = new BatchWorker(t.database.handle.db, t.app.services.initiation, t.app.services.batches, t.app.log, { chunk: 10 });
    expect(await worker.runOnce()).toBe(10);

    const canceled = await call(t.app, 'POST', `/session-batches/${created.data.id}/cancel`);
    expect(canceled.statusCode, canceled.body).toBe(200);
    expect(canceled.data).toMatchObject({ status: 'canceled', counts: { pending: 0, created: 10, refused: 0, canceled: 40 }, finishedAt: expect.any(String) });
    const again = await call(t.app, 'POST', `/session-batches/${created.data.id}/cancel`);
    expect(again.data).toEqual(canceled.data);

    startWorker();
    const sessions = await sql<{ n: number }>`SELECT count(*)::integer AS n FROM sessions WHERE live_chat_id = ${liveChatId}`.execute(t.database.handle.db);
    expect(Number(sessions.rows[0]!.n)).toBe(10);
    const completed = await call(t.app, 'GET', `/events?liveChatId=${liveChatId}&types=batch.completed`);
    expect(completed.data.items.map((e: { data: { batch: { status: string } } }) => e.data.batch.status)).toEqual(['canceled']);
  });
});
