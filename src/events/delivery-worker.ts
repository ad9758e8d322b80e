import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../clock.js';
import type { DatabaseHandle } from '../db/connection.js';
import { LoopSleep, settleWithin } from '../delivery/loop-sleep.js';
import { eventJsonText } from '../domain/event.js';
import type { SecretBox } from '../live-chats/secret-box.js';
import type { GroupCommitter } from '../db/group-commit.js';
import { type AttemptResult, type Claim, type ClaimedDelivery, attemptRecorder, claimDeliveries, releaseClaims, releaseExpiredLeases } from './delivery-claims.js';
import type { EventLogWatch } from './log-watch.js';
import { WebhookAttempts } from './webhook-attempts.js';
import type { WebhookSender } from './webhook-sender.js';
import { LogWindowSender } from './window-sender.js';

export type EventDeliveryOutcome = 'delivered' | 'retry' | 'failed';

/** Told about every finished attempt, for metrics. Must not throw. */
export interface EventDeliveryObserver {
  eventDelivered(outcome: EventDeliveryOutcome): void;
}

export interface EventDeliveryWorkerOptions {
  database: Pick<DatabaseHandle, 'db' | 'kind'>;
  watch: EventLogWatch;
  sender: WebhookSender;
  secrets: SecretBox;
  clock: Clock;
  /** Attempts in all (EVENT_MAX_ATTEMPTS) and the backoff between them (EVENT_RETRY_BASE_MS, EVENT_RETRY_MAX_MS). */
  policy: { maxAttempts: number; baseMs: number; maxMs: number };
  /** Deliveries in flight to one subscription, across replicas (EVENT_SUBSCRIPTION_CONCURRENCY). */
  perSubscription: number;
  /** One attempt's deadline (EVENT_DELIVERY_TIMEOUT_MS); the lease and the shutdown grace follow from it. */
  timeoutMs: number;
  logger: FastifyBaseLogger;
  observer?: EventDeliveryObserver | undefined;
  /** Attempts in flight in this process (default 128). */
  concurrency?: number | undefined;
  /** Longest sleep between looks at the log and the deliveries (default 250 ms on PGlite, 1 s on Postgres). */
  pollIntervalMs?: number | undefined;
  /** Under a stream of new events, reads of the log are at least this far apart (default 100 ms): fewer, larger windows. */
  readGapMs?: number | undefined;
  random?: () => number;
}

const ERROR_BACKOFF_MAX_MS = 10_000;
/** Wakes for new events within this long share one look. */
const WAKE_COALESCE_MS = 25;

/**
 * Delivers events to webhook subscriptions, in every replica. First attempts go straight from
 * the log: a window of a subscription's next events is taken under a lease, sent signed outside
 * any transaction, and written with its outcomes in one statement that also moves the
 * subscription past it (log-windows.ts). Retries and replays are delivery rows, claimed under a
 * lease and written guarded by the claim — delivered, retried with backoff, or failed after the
 * last attempt. At least once: a window or a claim whose holder died is taken again.
 */
export class EventDeliveryWorker {
  readonly #db: EventDeliveryWorkerOptions['database']['db'];
  readonly #log: FastifyBaseLogger;
  readonly #concurrency: number;
  readonly #leaseMs: number;
  readonly #pollIntervalMs: number;
  readonly #readGapMs: number;
  /** Attempts of claimed deliveries and windows being sent: all that stop() waits for. */
  readonly #inFlight = new Set<Promise<void>>();
  #claimedInFlight = 0;
  readonly #windows: LogWindowSender;
  readonly #shutdown = new AbortController();
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  #loop: Promise<void> | null = null;
  #unsubscribe: (() => void) | null = null;
  readonly #sleep = new LoopSleep();
  #slotWake: NodeJS.Timeout | null = null;
  #nextRetryAt = Number.POSITIVE_INFINITY;
  #expiredLeasesCheckedAt = Number.NEGATIVE_INFINITY;
  /** Deliveries may be due: each poll interval, at a retry's time, after untried events, an attempt or wake(); not on appends. */
  #deliveriesDue = true;
  readonly #outcomes: GroupCommitter<{ claim: Claim; result: AttemptResult }, boolean>;
  readonly #attempts: WebhookAttempts;
  /** New events may wait to be read (set by the log's watch and when a window ends); more: read on at once (see claim, ended). */
  #eventsAppended = true;
  #moreToRead = false;
  #logReadAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: EventDeliveryWorkerOptions) {
    this.#db = options.database.db;
    this.#outcomes = attemptRecorder(this.#db);
    this.#attempts = new WebhookAttempts({ ...options, shutdown: this.#shutdown.signal });
    this.#log = options.logger.child({ component: 'event-delivery' });
    this.#concurrency = options.concurrency ?? 128;
    this.#leaseMs = options.timeoutMs * 2 + 5_000;
    this.#pollIntervalMs = options.pollIntervalMs ?? (options.database.kind === 'pglite' ? 250 : 1_000);
    this.#readGapMs = options.readGapMs ?? 100;
    this.#windows = new LogWindowSender({
      ...options,
      db: this.#db,
      attempts: this.#attempts,
      log: this.#log,
      leaseMs: this.#leaseMs,
      inFlight: this.#inFlight,
      stopping: () => this.#state !== 'running',
      settled: (result) => this.#settled(result),
      ended: (leftUntried, full) => {
        // Events appended meanwhile waited for the window to end: read on, a read gap after the
        // last; at once after a full window (a backlog, which a gap per window would throttle).
        this.#eventsAppended = true;
        this.#moreToRead ||= full;
        this.#deliveriesDue ||= leftUntried;
        this.#sleep.wake(this.#state !== 'running');
      },
    });
  }

  start(): void {
    if (this.#state !== 'new') return;
    this.#state = 'running';
    this.#unsubscribe = this.options.watch.subscribe(() => this.#appended());
    this.#loop = this.#run();
  }

  /** Looks for new events and due deliveries now instead of at the next poll. */
  wake(): void {
    this.#deliveriesDue = true;
    this.#sleep.wake(this.#state !== 'running');
  }

  /**
   * Stops claiming, lets attempts in flight finish within their timeout, then cancels the rest
   * and gives them back. Resolves when nothing is held; the database must stay open until then.
   */
  async stop(): Promise<void> {
    if (this.#state === 'new') this.#state = 'stopped';
    if (this.#state === 'stopped') return;
    this.#state = 'stopping';
    this.#unsubscribe?.();
    this.wake();
    await this.#loop;
    if (this.#slotWake) clearTimeout(this.#slotWake);
    if (!(await settleWithin([...this.#inFlight], this.options.timeoutMs + 1_000))) {
      this.#shutdown.abort();
      await Promise.allSettled([...this.#inFlight]);
    }
    await this.options.sender.close();
    this.#state = 'stopped';
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (this.#state === 'running') {
      this.#sleep.awake();
      this.#deliveriesDue ||= Date.now() >= this.#nextRetryAt;
      let busy = false;
      try {
        if (Date.now() - this.#expiredLeasesCheckedAt >= this.#pollIntervalMs) {
          await releaseExpiredLeases(this.#db);
          this.#expiredLeasesCheckedAt = Date.now();
          this.#deliveriesDue = true;
        }
        // The log is read when events were appended (a read gap apart), while a read had more, and at every poll interval.
        const sinceRead = Date.now() - this.#logReadAt;
        if ((this.#moreToRead || (this.#eventsAppended && sinceRead >= this.#readGapMs) || sinceRead >= this.#pollIntervalMs) && this.#room() > 0) {
          this.#eventsAppended = this.#moreToRead = false;
          this.#logReadAt = Date.now();
          if (await this.#windows.claim(this.#room())) busy = this.#moreToRead = true;
        }
        const capacity = this.#room();
        if (capacity > 0 && this.#deliveriesDue) {
          this.#deliveriesDue = false;
          if (Date.now() >= this.#nextRetryAt) this.#nextRetryAt = Number.POSITIVE_INFINITY;
          const claimed = await claimDeliveries(this.#db, { limit: capacity, perSubscription: this.options.perSubscription, leaseMs: this.#leaseMs });
          if (this.#state !== 'running') {
            await releaseClaims(this.#db, claimed);
            break;
          }
          for (const delivery of claimed) this.#track(delivery);
          const full = claimed.length === capacity;
          this.#deliveriesDue ||= full;
          busy ||= full;
        }
        failures = 0;
      } catch (error) {
        if (this.#state !== 'running') break;
        const backoffMs = Math.min(ERROR_BACKOFF_MAX_MS, 250 * 2 ** failures++);
        this.#log.error({ err: error, backoffMs }, 'could not read the log or claim event deliveries');
        await this.#sleep.sleep(backoffMs);
        continue;
      }
      const readAt = this.#eventsAppended && this.#room() > 0 ? this.#logReadAt + this.#readGapMs : Number.POSITIVE_INFINITY;
      if (!busy) await this.#sleep.sleep(Math.max(1, Math.min(this.#pollIntervalMs, Math.max(10, this.#nextRetryAt - Date.now()), readAt - Date.now())));
    }
  }

  /** Attempts this process may still start: its concurrency less claims in flight and windows' slots. */
  #room(): number {
    return this.#concurrency - this.#claimedInFlight - this.#windows.slots;
  }

  #track(delivery: ClaimedDelivery): void {
    this.#claimedInFlight += 1;
    const attempt = this.#attempt(delivery).finally(() => {
      this.#claimedInFlight -= 1;
      this.#inFlight.delete(attempt);
      // Its subscription may have more due: look again at once (attempts whose outcomes were
      // written together end together, and share that look).
      this.wake();
    });
    this.#inFlight.add(attempt);
  }

  async #attempt(delivery: ClaimedDelivery): Promise<void> {
    try {
      let result: AttemptResult | null;
      if (delivery.attempts > this.options.policy.maxAttempts) {
        // Earlier claims ended without an outcome (their processes died mid-attempt).
        result = this.#attempts.resultOf({ delivered: false, statusCode: null, error: `No outcome after ${delivery.attempts - 1} attempts.` }, delivery.attempts);
      } else {
        const { event } = delivery;
        const body = eventJsonText({ ...event, occurredAt: event.occurredAt.toISOString() }, JSON.stringify(event.data));
        result = await this.#attempts.make(delivery, { id: event.id, body }, delivery.attempts);
        if (!result) {
          await releaseClaims(this.#db, [delivery]);
          return;
        }
      }
      if (!(await this.#outcomes.write({ claim: delivery, result }))) this.#log.warn({ deliveryId: delivery.id }, 'attempt ended after its lease; it may be made again');
      this.#settled(result);
    } catch (error) {
      this.#log.error({ err: error, deliveryId: delivery.id }, 'event delivery bookkeeping failed; it is retried once its lease runs out');
    }
  }

  /** An attempt's outcome is written: counted, and its retry looked for in time. */
  #settled(result: AttemptResult): void {
    if (result.status === 'pending') this.#nextRetryAt = Math.min(this.#nextRetryAt, Date.now() + result.delayMs);
    try {
      this.options.observer?.eventDelivered(result.status === 'pending' ? 'retry' : result.status);
    } catch (error) {
      this.#log.warn({ err: error }, 'event delivery observer threw');
    }
  }

  /** New events: looks again soon, at most once per interval (under load, one append after another). */
  #appended(): void {
    this.#eventsAppended = true;
    if (this.#slotWake || this.#state !== 'running') return;
    this.#slotWake = setTimeout(() => {
      this.#slotWake = null;
      this.#sleep.wake(this.#state !== 'running');
    }, WAKE_COALESCE_MS);
  }
}
