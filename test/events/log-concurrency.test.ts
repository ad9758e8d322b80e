import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../src/db/connection.js';
import { appendEvents } from '../../src/events/log-repository.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { usingPostgres } from '../support/database.js';
import { anEvent, readLog } from './helpers.js';

// PGlite is one connection: its transactions run one after another, so none can commit behind
// a later-numbered one and the rule holds by construction. These need real concurrency.
describe.skipIf(!usingPostgres)('the event log under concurrent writers (Postgres)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('does not skip an event whose transaction commits after a later-numbered one', async () => {
    const { cursor: start } = await readLog(t.app);
    const held = anEvent('00000000-0000-4000-8000-00000000000a');
    const later = anEvent('00000000-0000-4000-8000-00000000000b');
    let release!: () => void;
    let appendedHeld!: () => void;
    const heldIsWritten = new Promise<void>((resolve) => (appendedHeld = resolve));
    const holding = t.database.handle.db.transaction().execute(async (trx) => {
      await appendEvents(trx, [held]);
      appendedHeld();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await heldIsWritten;
    // Committed while the held transaction, with the lower position, is still open.
    await t.app.services.events.publish([later]);

    const whileHeld = await readLog(t.app, {}, start);
    release();
    await holding;
    const afterCommit = await readLog(t.app, {}, whileHeld.cursor);

    expect([...whileHeld.ids, ...afterCommit.ids]).toEqual([held.id, later.id]);
  });

  it('shows a reader looping on nextCursor every event of 50 concurrent transactions exactly once', async () => {
    const { cursor: start } = await readLog(t.app);
    // The writers' own pool, as another replica's: the reader never waits behind them for a connection.
    const writerDatabase = await connectDatabase({ databaseUrl: t.database.url!, poolSize: 25 });
    const expected = new Set<string>();
    const writers = Array.from({ length: 50 }, async (_, i) => {
      const events = Array.from({ length: 1 + (i % 3) }, () => anEvent(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`));
      for (const event of events) expected.add(event.id);
      await writerDatabase.db.transaction().execute(async (trx) => {
        for (const event of events) {
          await appendEvents(trx, [event]);
          // Interleave the writers, so that transactions commit out of position order.
          await sleep(Math.random() * 30);
        }
      });
      t.app.services.events.appended();
    });
    const done = Promise.all(writers);
    let writing = true;
    void done.finally(() => (writing = false));

    const seen: string[] = [];
    let cursor = start;
    const deadline = Date.now() + 20_000;
    while ((writing || seen.length < expected.size) && Date.now() < deadline) {
      const page = await call(t.app, 'GET', `/events?after=${cursor}&limit=7`);
      expect(page.statusCode).toBe(200);
      seen.push(...page.data.items.map((e: { id: string }) => e.id));
      cursor = page.data.nextCursor;
    }
    await done;
    await writerDatabase.close();

    expect(new Set(seen).size).toBe(seen.length);
    expect(new Set(seen)).toEqual(expected);
  });
});
