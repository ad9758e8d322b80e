import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../clock.js';
import type { DatabaseHandle } from '../db/connection.js';
import { LoopSleep, settleWithin } from '../delivery/loop-sleep.js';
import { retryDelayMs } from '../delivery/retry-policy.js';
import { eventJson } from '../domain/event.js';
import type { SecretBox } from '../live-chats/secret-box.js';
import type { GroupCommitter } from '../db/group-commit.js';
import { type AttemptResult, type Claim, type ClaimedDelivery, attemptRecorder, claimDeliveries, releaseClaims, releaseExpiredLeases } from './delivery-claims.js';
import { fanOutEvents } from './delivery-repository.js';
import type { EventLogWatch } from './log-watch.js';
import { signWebhook } from './signature.js';
import { signingSecretsCache } from './subscription-secrets.js';
import type { WebhookOutcome, WebhookSender } from './webhook-sender.js';

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
  random?: () => number;
}

const FAN_OUT_BATCH = 500;
const ERROR_BACKOFF_MAX_MS = 10_000;
/** Wakes for new events within this long share one look, so events go out in batches. */
const WAKE_COALESCE_MS = 25;

/**
 * Delivers events to webhook subscriptions, in every replica: turns new events into
 * deliveries (fanOutEvents), claims due ones under a lease, POSTs them signed outside any
 * transaction, and writes the outcome guarded by the claim — delivered, retried with backoff,
 * or failed after the last attempt. At least once: a claim whose holder died is taken again.
 */
export class EventDeliveryWorker {
  readonly #db: EventDeliveryWorkerOptions['database']['db'];
  readonly #log: FastifyBaseLogger;
  readonly #concurrency: number;
  readonly #leaseMs: number;
  readonly #pollIntervalMs: number;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #shutdown = new AbortController();
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  #loop: Promise<void> | null = null;
  #unsubscribe: (() => void) | null = null;
  readonly #sleep = new LoopSleep();
  #slotWake: NodeJS.Timeout | null = null;
  #nextRetryAt = Number.POSITIVE_INFINITY;
  #expiredLeasesCheckedAt = Number.NEGATIVE_INFINITY;
  readonly #outcomes: GroupCommitter<{ claim: Claim; result: AttemptResult }, boolean>;
  readonly #signingSecrets: ReturnType<typeof signingSecretsCache>;
  /** New events may wait for their fan-out (set by the log's watch, and while a fan-out had more). */
  #eventsAppended = true;
  #fannedOutAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: EventDeliveryWorkerOptions) {
    this.#db = options.database.db;
    this.#outcomes = attemptRecorder(this.#db);
    this.#signingSecrets = signingSecretsCache(options.secrets);
    this.#log = options.logger.child({ component: 'event-delivery' });
    this.#concurrency = options.concurrency ?? 128;
    this.#leaseMs = options.timeoutMs * 2 + 5_000;
    this.#pollIntervalMs = options.pollIntervalMs ?? (options.database.kind === 'pglite' ? 250 : 1_000);
  }

  start(): void {
    if (this.#state !== 'new') return;
    this.#state = 'running';
    this.#unsubscribe = this.options.watch.subscribe(() => {
      this.#eventsAppended = true;
      this.#wakeSoon();
    });
    this.#loop = this.#run();
  }

  /** Looks for new events and due deliveries now instead of at the next poll. */
  wake(): void {
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
      if (Date.now() >= this.#nextRetryAt) this.#nextRetryAt = Number.POSITIVE_INFINITY;
      let busy = false;
      try {
        if (Date.now() - this.#expiredLeasesCheckedAt >= this.#pollIntervalMs) {
          await releaseExpiredLeases(this.#db);
          this.#expiredLeasesCheckedAt = Date.now();
        }
        // Fan-out when events were appended, while it has more, and at every poll interval.
        if (this.#eventsAppended || Date.now() - this.#fannedOutAt >= this.#pollIntervalMs) {
          this.#eventsAppended = false;
          this.#fannedOutAt = Date.now();
          busy = (await fanOutEvents(this.#db, { batch: FAN_OUT_BATCH })).more;
          this.#eventsAppended ||= busy;
        }
        const capacity = this.#concurrency - this.#inFlight.size;
        if (capacity > 0) {
          const claimed = await claimDeliveries(this.#db, { limit: capacity, perSubscription: this.options.perSubscription, leaseMs: this.#leaseMs });
          if (this.#state !== 'running') {
            await releaseClaims(this.#db, claimed);
            break;
          }
          for (const delivery of claimed) this.#track(delivery);
          busy ||= claimed.length === capacity;
        }
        failures = 0;
      } catch (error) {
        if (this.#state !== 'running') break;
        const backoffMs = Math.min(ERROR_BACKOFF_MAX_MS, 250 * 2 ** failures++);
        this.#log.error({ err: error, backoffMs }, 'could not fan out or claim event deliveries');
        await this.#sleep.sleep(backoffMs);
        continue;
      }
      if (!busy) await this.#sleep.sleep(Math.min(this.#pollIntervalMs, Math.max(10, this.#nextRetryAt - Date.now())));
    }
  }

  #track(delivery: ClaimedDelivery): void {
    const attempt = this.#attempt(delivery).finally(() => {
      this.#inFlight.delete(attempt);
      // Its subscription may have more due: look again at once (attempts whose outcomes were
      // written together end together, and share that look).
      this.wake();
    });
    this.#inFlight.add(attempt);
  }

  async #attempt(delivery: ClaimedDelivery): Promise<void> {
    const { maxAttempts } = this.options.policy;
    try {
      let outcome: WebhookOutcome;
      if (delivery.attempts > maxAttempts) {
        // Earlier claims ended without an outcome (their processes died mid-attempt).
        outcome = { delivered: false, statusCode: null, error: `No outcome after ${delivery.attempts - 1} attempts.` };
      } else {
        outcome = await this.#send(delivery);
        if (!outcome.delivered && this.#shutdown.signal.aborted) {
          await releaseClaims(this.#db, [delivery]);
          return;
        }
      }
      const result = this.#resultOf(outcome, delivery.attempts);
      const recorded = await this.#outcomes.write({ claim: delivery, result });
      if (!recorded) this.#log.warn({ deliveryId: delivery.id }, 'attempt ended after its lease; it may be made again');
      if (result.status === 'pending') this.#nextRetryAt = Math.min(this.#nextRetryAt, Date.now() + result.delayMs);
      this.#observe(result.status === 'pending' ? 'retry' : result.status);
    } catch (error) {
      this.#log.error({ err: error, deliveryId: delivery.id }, 'event delivery bookkeeping failed; it is retried once its lease runs out');
    }
  }

  async #send(delivery: ClaimedDelivery): Promise<WebhookOutcome> {
    const now = this.options.clock.now();
    let secrets: string[];
    try {
      secrets = this.#signingSecrets(delivery.sealedSecrets, delivery.previousSecretExpiresAt, now);
    } catch {
      return { delivered: false, statusCode: null, error: 'The subscription secret cannot be decrypted with SECRETS_KEY.' };
    }
    const body = JSON.stringify(eventJson(delivery.event));
    const timestamp = Math.floor(now.getTime() / 1000);
    const signature = signWebhook(secrets, delivery.event.id, timestamp, body);
    return this.options.sender.send({ url: delivery.url, id: delivery.event.id, timestamp, body, signature }, this.#shutdown.signal);
  }

  /** Delivered on a 2xx; otherwise retried with backoff until the last attempt, then failed. */
  #resultOf(outcome: WebhookOutcome, attempts: number): AttemptResult {
    if (outcome.delivered) return { status: 'delivered', statusCode: outcome.statusCode };
    const { statusCode, error } = outcome;
    if (attempts >= this.options.policy.maxAttempts) return { status: 'failed', statusCode, error: `${error} (gave up after ${attempts} attempts)` };
    return { status: 'pending', delayMs: retryDelayMs(attempts, this.options.policy, this.options.random), statusCode, error };
  }

  #observe(outcome: EventDeliveryOutcome): void {
    try {
      this.options.observer?.eventDelivered(outcome);
    } catch (error) {
      this.#log.warn({ err: error }, 'event delivery observer threw');
    }
  }

  /** Looks again soon, at most once per interval, after new events (under load, one append after another). */
  #wakeSoon(): void {
    if (this.#slotWake || this.#state !== 'running') return;
    this.#slotWake = setTimeout(() => {
      this.#slotWake = null;
      this.wake();
    }, WAKE_COALESCE_MS);
  }
}
