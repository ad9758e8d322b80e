import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import type { Event } from '../domain/event.js';
import { type LogPage, type LogQuery, type NewEvent, appendEvents, readEvents } from './log-repository.js';
import type { EventLogWatch } from './log-watch.js';

export interface ReadOptions {
  /** Hold an empty answer open this long for an event to arrive (0: answer at once). */
  waitMs?: number | undefined;
  /** Ends the wait early (the client went away). */
  signal?: AbortSignal | undefined;
}

/**
 * The event log as callers read it: pages in log order, optionally held open until an event
 * arrives. Writers append with appendEvents in their own transaction and call `appended()`
 * after the commit (or `publish` when they have no transaction of their own).
 */
export class EventLog {
  constructor(
    private readonly db: Kysely<Database>,
    /** What wakes readers and the webhook worker; started and stopped with the app. */
    readonly watch: EventLogWatch,
    /** Longest wait between looks at the log while holding an answer open; wakes cut it short. */
    private readonly pollMs: number,
  ) {}

  /**
   * The next page after `query.after`. With `waitMs`, an empty page is held until an event
   * arrives (a wake, or the next look at the log: events become visible only once every older
   * transaction has finished, which no wake announces), the time is up, or the service stops.
   */
  async read(query: LogQuery, options: ReadOptions = {}): Promise<LogPage> {
    const deadline = Date.now() + (options.waitMs ?? 0);
    let after = query.after;
    for (;;) {
      const version = this.watch.version;
      const page = await readEvents(this.db, { ...query, after });
      const moved = page.next.xid !== after.xid || page.next.position !== after.position;
      after = page.next;
      const left = deadline - Date.now();
      if (page.items.length > 0 || left <= 0 || this.watch.closed || options.signal?.aborted) return page;
      // Past events that did not match the filter, or woken while reading: look again at once.
      if (moved || this.watch.version !== version) continue;
      await this.watch.next(Math.min(left, this.pollMs), options.signal);
    }
  }

  /** Appends events in a transaction of their own and tells readers. */
  async publish(events: readonly NewEvent[]): Promise<Event[]> {
    const appended = await this.db.transaction().execute((trx) => appendEvents(trx, events));
    this.appended();
    return appended;
  }

  /** Tells readers and the webhook worker, here and in other replicas, that events were committed. */
  appended(): void {
    this.watch.appended();
  }
}
