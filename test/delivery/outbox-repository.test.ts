import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/types.js';
import {
  claimDueMessages,
  recordFailure,
  recordSent,
  releaseClaims,
  scheduleRetry,
} from '../../src/delivery/outbox-repository.js';
import { outboxStats } from '../../src/delivery/outbox-stats.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { waitUntil } from '../support/http-stand-in.js';
import { emailSession, messageOf, sendText } from './helpers.js';

const LEASE = { limit: 10, leaseMs: 60_000 };

describe('outbox repository', () => {
  let t: TestApp;
  let db: Kysely<Database>;
  beforeAll(async () => {
    t = await createTestApp();
    db = t.database.handle.db;
  });
  afterAll(() => t.close());
  // Each test starts with an empty outbox.
  beforeEach(async () => {
    await db.updateTable('messages').set({ status: 'failed', locked_until: null }).where('status', '=', 'queued').execute();
  });

  it('claims a due message under a lease, counts the attempt, and does not hand it out twice', async () => {
    const session = await emailSession(t.app, { text: 'Hello' });

    const [claim, ...rest] = await claimDueMessages(db, LEASE);
    expect(rest).toEqual([]);
    expect(claim).toMatchObject({ id: session.messageId, sessionId: session.sessionId, channel: 'email', text: 'Hello', attempts: 1 });
    expect(claim!.lockedUntil.getTime()).toBeGreaterThan(Date.now());
    expect(await claimDueMessages(db, LEASE)).toEqual([]);
    expect(await messageOf(t.app, session.sessionId, session.messageId!)).toMatchObject({ status: 'queued', attempts: 1 });
  });

  it("holds back a session's later messages until the earlier one is no longer queued", async () => {
    const a = await emailSession(t.app, { text: 'a1' });
    const a2 = await sendText(t.app, a, 'a2');
    const a3 = await sendText(t.app, a, 'a3');
    const b = await emailSession(t.app, { liveChatId: a.liveChatId, operatorId: a.operatorId, text: 'b1' });

    const first = await claimDueMessages(db, LEASE);
    expect(first.map((c) => c.text).sort()).toEqual(['a1', 'b1']);
    // a1 in flight: a2 waits, even though it is due.
    expect(await claimDueMessages(db, LEASE)).toEqual([]);

    const a1 = first.find((c) => c.text === 'a1')!;
    await scheduleRetry(db, a1, { delayMs: 60_000, error: { code: 'timeout', message: 'No answer' } });
    // a1 waits for its retry: still queued, so a2 still waits.
    expect(await claimDueMessages(db, LEASE)).toEqual([]);

    await db.updateTable('messages').set({ next_attempt_at: new Date(Date.now() - 1) }).where('id', '=', a1.id).execute();
    const retried = await claimDueMessages(db, LEASE);
    expect(retried.map((c) => c.text)).toEqual(['a1']);
    expect(await recordSent(db, retried[0]!, { providerMessageId: '<a1@example.com>', providerRecipient: null })).toBe(true);

    expect((await claimDueMessages(db, LEASE)).map((c) => c.id)).toEqual([a2]);
    expect(await messageOf(t.app, b.sessionId, b.messageId!)).toMatchObject({ status: 'queued' });
    expect(a3).toBeTruthy();
  });

  it('lets another process take a message whose lease ran out, and ignores the old claim afterwards', async () => {
    const session = await emailSession(t.app, { text: 'Hello' });
    const [stale] = await claimDueMessages(db, { limit: 10, leaseMs: 1 });

    const [fresh] = await waitUntil(async () => {
      const claims = await claimDueMessages(db, LEASE);
      return claims.length > 0 ? claims : undefined;
    });
    expect(fresh).toMatchObject({ id: session.messageId, attempts: 2 });

    // The first claimer comes back late: none of its outcomes lands.
    expect(await recordSent(db, stale!, { providerMessageId: '<late@example.com>', providerRecipient: null })).toBe(false);
    expect(await recordFailure(db, stale!, { code: 'x', message: 'x' })).toBe(false);
    expect(await scheduleRetry(db, stale!, { delayMs: 0, error: { code: 'x', message: 'x' } })).toBe(false);
    expect(await releaseClaims(db, [stale!])).toBe(0);

    expect(await recordSent(db, fresh!, { providerMessageId: '<fresh@example.com>', providerRecipient: 'ann@example.org' })).toBe(true);
    expect(await recordSent(db, fresh!, { providerMessageId: '<again@example.com>', providerRecipient: null })).toBe(false);
    expect(await messageOf(t.app, session.sessionId, session.messageId!)).toMatchObject({
      status: 'sent',
      providerMessageId: '<fresh@example.com>',
      attempts: 2,
      error: null,
    });
  });

  it('shows the last error and the attempts of a message waiting for a retry, then of a failed one', async () => {
    const session = await emailSession(t.app, { text: 'Hello' });
    const [claim] = await claimDueMessages(db, LEASE);
    await scheduleRetry(db, claim!, { delayMs: 60_000, error: { code: 'smtp_451', message: 'Try later' } });
    expect(await messageOf(t.app, session.sessionId, session.messageId!)).toMatchObject({
      status: 'queued',
      attempts: 1,
      error: { code: 'smtp_451', message: 'Try later' },
    });
    expect(await claimDueMessages(db, LEASE)).toEqual([]);

    await db.updateTable('messages').set({ next_attempt_at: new Date(Date.now() - 1) }).where('id', '=', claim!.id).execute();
    const [again] = await claimDueMessages(db, LEASE);
    expect(await recordFailure(db, again!, { code: 'smtp_550', message: 'No such user' })).toBe(true);
    expect(await messageOf(t.app, session.sessionId, session.messageId!)).toMatchObject({
      status: 'failed',
      attempts: 2,
      error: { code: 'smtp_550', message: 'No such user' },
    });
  });

  it('releases claims untried: no lease, the attempt uncounted, claimable at once', async () => {
    const session = await emailSession(t.app, { text: 'Hello' });
    const claims = await claimDueMessages(db, LEASE);
    expect(await releaseClaims(db, claims)).toBe(1);
    expect(await messageOf(t.app, session.sessionId, session.messageId!)).toMatchObject({ status: 'queued', attempts: 0 });
    expect((await claimDueMessages(db, LEASE)).map((c) => c.id)).toEqual([session.messageId]);
  });

  it('reports the outbox depth, what is in flight and the age of the oldest queued message', async () => {
    expect(await outboxStats(db)).toEqual({ depth: 0, inFlight: 0, oldestAgeSeconds: 0 });
    const session = await emailSession(t.app, { text: 'one' });
    await sendText(t.app, session, 'two');
    await sql`UPDATE messages SET created_at = now() - interval '90 seconds' WHERE id = ${session.messageId}`.execute(db);
    await claimDueMessages(db, LEASE);

    const stats = await outboxStats(db);
    expect(stats).toMatchObject({ depth: 2, inFlight: 1 });
    expect(stats.oldestAgeSeconds).toBeGreaterThanOrEqual(90);
    expect(stats.oldestAgeSeconds).toBeLessThan(3_600);
  });

  it('feeds the outbox depth and the oldest age to GET /metrics', async () => {
    const session = await emailSession(t.app, { text: 'one' });
    await sendText(t.app, session, 'two');
    await sendText(t.app, session, 'three');

    const response = await call(t.app, 'GET', '/metrics', undefined, { key: null });

    expect(response.statusCode).toBe(200);
    expect(response.body).toMatch(/^outbox_depth 3$/m);
    expect(response.body).toMatch(/^outbox_oldest_age_seconds \d/m);
  });
});
