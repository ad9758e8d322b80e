import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.js';
import { MESSAGES_QUEUED_CHANNEL } from './dispatcher.js';

/** How often at most this process tells the other replicas that messages were queued. */
const NOTIFY_INTERVAL_MS = 100;

/**
 * Tells every replica's dispatcher that messages were queued: NOTIFY messages_queued on
 * Postgres, at most once per interval and outside the request's transaction (a NOTIFY inside
 * it would serialise every commit). The local dispatcher is woken directly by the caller.
 */
export class OutboxSignal {
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Schedules one NOTIFY; calls within the interval share it. Never throws. */
  messagesQueued(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      sql`SELECT pg_notify(${MESSAGES_QUEUED_CHANNEL}, '')`.execute(this.db).catch(this.onError);
    }, NOTIFY_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Sends nothing more (the database is about to close). */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
