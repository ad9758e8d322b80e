import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import type { AttemptResult } from './delivery-claims.js';
import { type LogWindow, type WindowOutcome, claimWindows, recordWindow } from './log-windows.js';
import type { WebhookAttempts } from './webhook-attempts.js';

/** Events a window reads from the log at most (those of them its subscription takes are sent). */
const WINDOW_EVENTS = 500;

/**
 * The webhook worker's first attempts: claims windows of the log (log-windows.ts), sends each
 * window's events with at most its slots in flight, and writes the window with its outcomes.
 */
export class LogWindowSender {
  /** Slots held by this process's windows. */
  slots = 0;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      attempts: WebhookAttempts;
      log: FastifyBaseLogger;
      perSubscription: number;
      /** One attempt's deadline: events not started this long after the claim wait as retries. */
      timeoutMs: number;
      leaseMs: number;
      /** Where a window being sent is kept until it is written (the worker's stop waits for them). */
      inFlight: Set<Promise<void>>;
      stopping: () => boolean;
      /** An attempt's outcome was written. */
      settled: (result: AttemptResult) => void;
      /**
       * A window ended, written or not; `leftUntried` when it was written with events left to
       * retries at once; `full` when its read was a full scan (its subscription has more).
       */
      ended: (leftUntried: boolean, full: boolean) => void;
    },
  ) {}

  /** Claims windows that fit in `room` attempts and starts sending them; true when there may be more to read. */
  async claim(room: number): Promise<boolean> {
    const perSubscription = Math.min(this.deps.perSubscription, room);
    const { windows, more } = await claimWindows(this.deps.db, {
      maxWindows: Math.max(1, Math.floor(room / perSubscription)),
      maxEvents: WINDOW_EVENTS,
      perSubscription,
      leaseMs: this.deps.leaseMs,
    });
    for (const window of windows) this.#track(window);
    return more;
  }

  #track(window: LogWindow): void {
    this.slots += window.slots;
    // #send never rejects: what went wrong is logged there and the window is sent again.
    const sending = this.#send(window).then((leftUntried) => {
      this.slots -= window.slots;
      this.deps.inFlight.delete(sending);
      this.deps.ended(leftUntried, window.full);
    });
    this.deps.inFlight.add(sending);
  }

  /** Sends and writes a window; true when it was written with events left untried. */
  async #send(window: LogWindow): Promise<boolean> {
    try {
      // What is not started by then waits as a retry, so that the window ends within its lease.
      const outcomes = await sendWindow(window, this.deps.attempts, { deadline: Date.now() + this.deps.timeoutMs, stopping: this.deps.stopping });
      if (!(await recordWindow(this.deps.db, window, outcomes))) {
        this.deps.log.warn({ subscriptionId: window.subscriptionId }, 'event window not written: its lease ran out (its events go out again) or its subscription is gone');
        return false;
      }
      let untried = false;
      for (const { result } of outcomes) {
        if (result === 'untried') untried = true;
        else this.deps.settled(result);
      }
      return untried;
    } catch (error) {
      this.deps.log.error({ err: error, subscriptionId: window.subscriptionId }, 'event window bookkeeping failed; it is sent again once its lease runs out');
      return false;
    }
  }
}

/**
 * Sends a window's events, at most `window.slots` at once, each attempt its first. An event not
 * started by `deadline` (a slow receiver) or once `stopping()` is left untried, to be claimed
 * as a retry, so that a window ends within its lease.
 */
export async function sendWindow(window: LogWindow, attempts: WebhookAttempts, options: { deadline: number; stopping: () => boolean }): Promise<WindowOutcome[]> {
  const outcomes: WindowOutcome[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < window.events.length) {
      const index = next++;
      const event = window.events[index]!;
      const result = Date.now() >= options.deadline || options.stopping() ? null : await attempts.make(window, event, 1);
      outcomes[index] = { event, result: result ?? 'untried' };
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(window.slots, window.events.length)) }, lane));
  return outcomes;
}
