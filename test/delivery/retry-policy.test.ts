import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { permanent, transient } from '../../src/channels/channel-client.js';
import { nextStepAfterFailure, retryDelayMs } from '../../src/delivery/retry-policy.js';

const defaults = { maxAttempts: 10, baseMs: 2_000, maxMs: 600_000 };

describe('retry policy', () => {
  it('retries the first time within 5 s with the default settings', () => {
    expect(retryDelayMs(1, defaults, () => 0)).toBe(1_000);
    expect(retryDelayMs(1, defaults, () => 0.999999)).toBeLessThanOrEqual(2_000);
  });

  it('doubles each step and stops growing at the cap', () => {
    const upper = (retry: number) => retryDelayMs(retry, defaults, () => 1);
    expect([1, 2, 3, 4].map(upper)).toEqual([2_000, 4_000, 8_000, 16_000]);
    expect(upper(20)).toBe(600_000);
    expect(upper(100)).toBe(600_000);
  });

  it('keeps every wait between half its step and the whole step (jitter never collapses to zero)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 10, max: 10_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (retry, baseMs, r) => {
        const maxMs = baseMs * 50;
        const step = Math.min(maxMs, baseMs * 2 ** (retry - 1));
        const delay = retryDelayMs(retry, { baseMs, maxMs }, () => r);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(step / 2));
        expect(delay).toBeLessThanOrEqual(Math.ceil(step));
      }),
    );
  });

  it('fails a permanent failure at once, whatever the attempt', () => {
    expect(nextStepAfterFailure(permanent('whatsapp_131026', 'Message undeliverable'), 1, defaults)).toEqual({
      action: 'fail',
      error: { code: 'whatsapp_131026', message: 'Message undeliverable' },
    });
  });

  it('retries a transient failure until the last attempt, then fails with its error', () => {
    const failure = transient('timeout', 'No answer');
    expect(nextStepAfterFailure(failure, 9, defaults, () => 0)).toMatchObject({ action: 'retry', error: { code: 'timeout' } });
    expect(nextStepAfterFailure(failure, 10, defaults)).toEqual({
      action: 'fail',
      error: { code: 'timeout', message: 'No answer (gave up after 10 attempts)' },
    });
  });

  it('waits at least as long as the provider asked, even beyond the cap', () => {
    const policy = { maxAttempts: 5, baseMs: 10, maxMs: 100 };
    expect(nextStepAfterFailure(transient('telegram_429', 'retry after 3', 3_000), 1, policy)).toMatchObject({ action: 'retry', delayMs: 3_000 });
    expect(nextStepAfterFailure(transient('telegram_429', 'retry after 0', 0), 1, policy, () => 1)).toMatchObject({ action: 'retry', delayMs: 10 });
  });
});
