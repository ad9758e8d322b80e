import type { SendFailure } from '../channels/channel-client.js';
import type { MessageError } from '../domain/message.js';

export interface RetryPolicy {
  /** Attempts in all, the first included (DELIVERY_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** The first retry waits between half of this and this (DELIVERY_RETRY_BASE_MS). */
  baseMs: number;
  /** No wait grows beyond this, unless the provider asks for longer (DELIVERY_RETRY_MAX_MS). */
  maxMs: number;
}

export type NextStep = { action: 'retry'; delayMs: number; error: MessageError } | { action: 'fail'; error: MessageError };

/**
 * The wait before retry number `retry` (1 = after the first attempt failed): exponential,
 * capped at maxMs, with "equal jitter" — half of it fixed, half random — so replicas that
 * failed together do not retry together, and no wait is shorter than half its step.
 */
export function retryDelayMs(retry: number, policy: Pick<RetryPolicy, 'baseMs' | 'maxMs'>, random: () => number = Math.random): number {
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}

/**
 * What follows a failed attempt, `attempts` counting every attempt made so far (this one
 * included): a permanent failure fails at once, a transient one is retried until the last
 * attempt; a wait the provider asked for (retry-after) is honoured even beyond the cap.
 */
export function nextStepAfterFailure(failure: SendFailure, attempts: number, policy: RetryPolicy, random: () => number = Math.random): NextStep {
  const error = { code: failure.code, message: failure.message };
  if (failure.outcome === 'permanent') return { action: 'fail', error };
  if (attempts >= policy.maxAttempts) {
    return { action: 'fail', error: { code: failure.code, message: `${failure.message} (gave up after ${attempts} attempts)` } };
  }
  const delayMs = Math.max(retryDelayMs(attempts, policy, random), failure.retryAfterMs ?? 0);
  return { action: 'retry', delayMs, error };
}
