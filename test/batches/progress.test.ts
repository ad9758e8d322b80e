import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggerOptions } from '../../src/http/logging.js';
import { type TestApp, call, createTestApp, startSecondReplica } from '../support/app.js';
import { liveChatWithOperator, newPhone } from '../support/fixtures.js';
import { waitUntil } from '../support/http-stand-in.js';

// A batch's progress as operators watch it: GET /metrics and the log. One replica accepts the
// batch and runs no batch worker (testConfig); the other's own worker, as app.ts wires it,
// initiates the recipients.

describe('a session batch’s progress in metrics and logs', () => {
  let t: TestApp;
  let worker: Awaited<ReturnType<typeof startSecondReplica>> | undefined;
  const lines: Record<string, any>[] = [];
  const logger = () =>
    pino(
      loggerOptions('info'),
      new Writable({
        write(chunk, _encoding, done) {
          for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
          done();
        },
      }),
    );

  beforeAll(async () => {
    t = await createTestApp({ logger: logger() });
  });
  afterAll(async () => {
    await worker?.close();
    await t.close();
  });

  const metricsOf = async (app: TestApp['app']) => {
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    return response.body;
  };

  it('counts recipients by outcome and running batches, and logs a line when a batch starts and when it finishes', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const optedOut = newPhone();
    expect((await call(t.app, 'PUT', `/live-chats/${liveChatId}/opt-outs/${encodeURIComponent(optedOut)}`)).statusCode).toBe(204);
    const recipients = [newPhone(), optedOut, newPhone()].map((account, i) => ({ contact: { name: `P${i}` }, account }));
    const created = await call(t.app, 'POST', '/session-batches', { liveChatId, operatorId, message: { template: { name: 'service_notice', language: 'en_US' } }, recipients });
    expect(created.statusCode, created.body).toBe(202);
    const batchId = created.data.id as string;

    expect(lines.filter((l) => l.msg === 'session batch started')).toEqual([expect.objectContaining({ level: 30, batchId, liveChatId, total: 3 })]);
    const accepted = await metricsOf(t.app);
    expect(accepted).toMatch(/^batches_running 1$/m);
    expect(accepted).not.toMatch(/^batch_recipients_total\{/m);

    worker = await startSecondReplica(t, { batchWorkerEnabled: true }, { logger: logger() });
    await waitUntil(async () => (await call(t.app, 'GET', `/session-batches/${batchId}`)).data.status === 'done', { what: 'the batch to finish', timeoutMs: 20_000 });

    const finished = lines.filter((l) => l.msg === 'session batch finished');
    expect(finished).toEqual([expect.objectContaining({ level: 30, batchId, status: 'done', counts: { pending: 0, created: 2, refused: 1, canceled: 0 } })]);
    const done = await metricsOf(worker.app);
    expect(done).toMatch(/^batch_recipients_total\{outcome="created"\} 2$/m);
    expect(done).toMatch(/^batch_recipients_total\{outcome="refused"\} 1$/m);
    expect(done).toMatch(/^batches_running 0$/m);
    expect(await metricsOf(t.app)).toMatch(/^batches_running 0$/m);
  });
});
