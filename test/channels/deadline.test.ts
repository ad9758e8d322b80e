import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { deadline } from '../../src/channels/deadline.js';

describe('deadline (one abort signal for a provider call)', () => {
  it('aborts when the time runs out, and says so', async () => {
    const call = deadline(10);
    expect(call.signal.aborted).toBe(false);
    await sleep(40);
    expect(call.signal.aborted).toBe(true);
    expect(call.timedOut()).toBe(true);
    call.done();
  });

  it("aborts at once when the caller's signal fires, which is not a timeout", () => {
    const shutdown = new AbortController();
    const call = deadline(60_000, shutdown.signal);
    shutdown.abort();
    expect(call.signal.aborted).toBe(true);
    expect(call.timedOut()).toBe(false);
    call.done();
  });

  it("starts aborted when the caller's signal already fired", () => {
    const shutdown = new AbortController();
    shutdown.abort();
    const call = deadline(60_000, shutdown.signal);
    expect(call.signal.aborted).toBe(true);
    call.done();
  });

  it('lets go of the timer and the caller’s signal once done', async () => {
    const shutdown = new AbortController();
    const call = deadline(10, shutdown.signal);
    call.done();
    await sleep(40);
    shutdown.abort();
    expect(call.signal.aborted).toBe(false);
    expect(call.timedOut()).toBe(false);
  });
});
