import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import type { DatabaseHandle } from '../db/connection.js';
import { NotificationListener } from '../delivery/notification-listener.js';

/** The Postgres channel on which replicas tell each other that events were appended. */
export const EVENTS_APPENDED_CHANNEL = 'events_appended';
/** How often at most this process NOTIFYs the other replicas. */
const NOTIFY_INTERVAL_MS = 50;

/**
 * Wakes whoever waits for the log to grow (long-polling readers, the webhook worker): at once
 * for events appended in this process (`appended()`, called after their commit), through
 * LISTEN/NOTIFY on a dedicated connection for other replicas (Postgres only). The NOTIFY goes
 * out after the commit, at most once per interval, never inside the writer's transaction.
 */
export class EventLogWatch {
  readonly #subscribers = new Set<() => void>();
  #listener: NotificationListener | null = null;
  #notifyTimer: NodeJS.Timeout | null = null;
  #closed = false;
  /** Counts wakes, so that a reader can tell whether one came while it was reading. */
  #version = 0;

  constructor(
    private readonly database: Pick<DatabaseHandle, 'db' | 'kind' | 'pool'>,
    private readonly log: FastifyBaseLogger,
  ) {}

  get version(): number {
    return this.#version;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** LISTENs on Postgres. */
  start(): void {
    const pool = this.database.pool;
    if (this.#closed || this.#listener || this.database.kind !== 'postgres' || !pool) return;
    this.#listener = new NotificationListener(pool.options, EVENTS_APPENDED_CHANNEL, () => this.#wake(), this.log.child({ component: 'event-log-watch' }));
    this.#listener.start();
  }

  /** Releases every waiter and stops listening; nothing waits on the log any more. */
  async stop(): Promise<void> {
    this.#closed = true;
    if (this.#notifyTimer) clearTimeout(this.#notifyTimer);
    this.#notifyTimer = null;
    this.#wake();
    await this.#listener?.stop();
  }

  /** Call after a transaction that appended events has committed. Never throws. */
  appended(): void {
    if (this.#closed) return;
    this.#wake();
    if (this.database.kind !== 'postgres' || this.#notifyTimer) return;
    this.#notifyTimer = setTimeout(() => {
      this.#notifyTimer = null;
      sql`SELECT pg_notify(${EVENTS_APPENDED_CHANNEL}, '')`
        .execute(this.database.db)
        .catch((error: unknown) => this.log.warn({ err: error }, 'could not tell other replicas about new events'));
    }, NOTIFY_INTERVAL_MS);
    this.#notifyTimer.unref();
  }

  /** Calls `wake` on every wake until the returned function is called. */
  subscribe(wake: () => void): () => void {
    this.#subscribers.add(wake);
    return () => this.#subscribers.delete(wake);
  }

  /** Resolves at the next wake, after `ms`, when `signal` aborts, or at once once stopped. */
  next(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#closed || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      const unsubscribe = this.subscribe(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  #wake(): void {
    this.#version += 1;
    for (const wake of [...this.#subscribers]) wake();
  }
}
