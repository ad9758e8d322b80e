import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import { type EventsAppended, noEventsAppended } from '../events/snapshots.js';
import type { Database } from '../db/types.js';
import { purgeProcessedEvents } from './inbound-repository.js';
import { applyEarlyDeliveryStatuses, purgeEarlyDeliveryStatuses } from './message-status-repository.js';

/** How often delivery reports that came before their message's provider id are looked at again. */
export const EARLY_STATUS_SWEEP_MS = 2_000;
/** How long such a report waits for its message (the dispatcher records an id within seconds). */
export const EARLY_STATUS_RETENTION_MS = 60 * 60_000;
/**
 * How long a processed webhook event is remembered to recognise a replay: WhatsApp delivers a
 * webhook again for up to 7 days, Telegram keeps an update for 24 hours.
 */
export const PROCESSED_EVENT_RETENTION_MS = 8 * 24 * 60 * 60_000;
const PURGE_INTERVAL_MS = 10 * 60_000;

/**
 * The webhooks' background work, in every replica (each step is safe to run in several at
 * once): applies early delivery reports once their message carries the id, and forgets what
 * is past its retention.
 */
export class WebhookHousekeeping {
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #running = new Set<Promise<void>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly log: FastifyBaseLogger,
    private readonly events: EventsAppended = noEventsAppended,
    private readonly options: { sweepMs?: number } = {},
  ) {}

  start(): void {
    if (this.#timers.length > 0) return;
    this.#every(this.options.sweepMs ?? EARLY_STATUS_SWEEP_MS, () => this.applyEarlyStatuses());
    this.#every(PURGE_INTERVAL_MS, () => this.purge());
  }

  /** Stops the timers and waits for a step in progress (the database must stay open until then). */
  async stop(): Promise<void> {
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    await Promise.all([...this.#running]);
  }

  /** Applies the early reports whose message now carries the provider id. Returns how many moved a message. */
  async applyEarlyStatuses(): Promise<number> {
    const moved = await applyEarlyDeliveryStatuses(this.db, this.clock.now());
    if (moved > 0) this.events.appended();
    return moved;
  }

  /** Forgets early reports no message claimed and processed events past their retention. */
  async purge(): Promise<{ earlyStatuses: number; processedEvents: number }> {
    const now = this.clock.now().getTime();
    const earlyStatuses = await purgeEarlyDeliveryStatuses(this.db, new Date(now - EARLY_STATUS_RETENTION_MS));
    const processedEvents = await purgeProcessedEvents(this.db, new Date(now - PROCESSED_EVENT_RETENTION_MS));
    return { earlyStatuses, processedEvents };
  }

  /** Runs `step` every `ms`, skipping a tick while the last run goes on; a failure is logged and the next tick tries again. */
  #every(ms: number, step: () => Promise<unknown>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      const run = step().then(
        () => undefined,
        (error: unknown) => this.log.warn({ err: error }, 'webhook housekeeping failed'),
      );
      this.#running.add(run);
      void run.finally(() => {
        busy = false;
        this.#running.delete(run);
      });
    }, ms);
    timer.unref();
    this.#timers.push(timer);
  }
}
