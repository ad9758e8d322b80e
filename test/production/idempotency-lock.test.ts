import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { ADMIN_KEY, TestClock, testConfig } from '../support/app.js';
import { type TestDatabase, createTestDatabase } from '../support/database.js';
import { waitUntil } from '../support/http-stand-in.js';

// A request that runs longer than its lock must keep its key: the holder renews the lock while
// it runs, so a duplicate gets 409 instead of taking the key over and running a second time.
describe('an Idempotency-Key held by a long request', () => {
  let database: TestDatabase;
  let app: App;
  const clock = new TestClock();
  let release: () => void = () => {};
  let runs = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    app = await buildApp({ config: testConfig({ idempotencyLockMs: 300 }), database: database.handle, clock });
    // A route that works until the test lets it finish.
    app.post('/slow', { config: { access: 'sessions', idempotent: true, liveChat: 'none' } }, async (_request, reply) => {
      runs++;
      await new Promise<void>((resolve) => (release = resolve));
      return reply.code(201).send({ run: runs });
    });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  const post = () =>
    app.inject({ method: 'POST', url: '/slow', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'idempotency-key': 'slow-1', 'content-type': 'application/json' }, payload: {} });
  const lockedUntil = async () =>
    (await database.handle.db.selectFrom('idempotency_keys').select('locked_until').where('key', '=', 'slow-1').executeTakeFirst())?.locked_until.getTime();

  it('renews the lock past its first expiry, so a duplicate is refused as in use, then replayed', async () => {
    const first = post();
    await waitUntil(() => runs === 1, { what: 'the first request to start' });
    const firstLock = (await lockedUntil())!;
    // Far past the first lock: without renewal the key would now look abandoned.
    clock.advance(10_000);
    await waitUntil(async () => ((await lockedUntil()) ?? 0) > clock.now().getTime(), { what: 'the lock to be renewed' });
    expect((await lockedUntil())!).toBeGreaterThan(firstLock);

    const duplicate = await post();
    expect(duplicate.statusCode, duplicate.body).toBe(409);
    expect(JSON.parse(duplicate.body).code).toBe('idempotency_key_in_use');
    expect(runs).toBe(1);

    release();
    expect((await first).statusCode).toBe(201);
    const replayed = await post();
    expect(replayed.statusCode).toBe(201);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(runs).toBe(1);
  });
});
