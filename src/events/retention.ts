import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/types.js';
import { purgeEvents } from './log-repository.js';

const PURGE_INTERVAL_MS = 10 * 60_000;
const DAY_MS = 24 * 60 * 60_000;

/**
 * Forgets events older than EVENT_RETENTION_DAYS, with their deliveries, every ten minutes in
 * every replica (purging in several at once is safe; each deletes in chunks).
 */
export class EventRetention {
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly retentionDays: number,
    private readonly log: FastifyBaseLogger,
  ) {}

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      if (this.#running) return;
      this.#running = this.purge()
        .catch((error: unknown) => this.log.warn({ err: error }, 'event retention purge failed'))
        .finally(() => (this.#running = null));
    }, PURGE_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a purge in progress (the database must stay open until then). */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  /** Deletes the events past their retention; returns how many. */
  purge(): Promise<number> {
    return purgeEvents(this.db, new Date(this.clock.now().getTime() - this.retentionDays * DAY_MS));
  }
}
