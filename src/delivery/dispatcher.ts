import type { FastifyBaseLogger } from 'fastify';
import type { ChannelRegistry } from '../channels/registry.js';
import type { DatabaseHandle } from '../db/connection.js';
import { createQueryRunner } from '../db/prepared.js';
import type { LiveChat } from '../live-chats/model.js';
import { HandoverQueue, LEASE_MARGIN_MS } from './handover-queue.js';
import { LoopSleep, settleWithin } from './loop-sleep.js';
import { NotificationListener } from './notification-listener.js';
import { type AttemptContext, attemptContext, attemptDelivery } from './attempt.js';
import type { DeliveryObserver } from './outcome-recorder.js';
import { type ClaimedMessage, giveBackClaims } from './outbox-repository.js';
import { OutboxClaimer } from './outbox-claimer.js';
import { Pacer, TELEGRAM_CHAT_INTERVAL_MS } from './pacing.js';
import type { RetryPolicy } from './retry-policy.js';

export type { DeliveryObserver, DeliveryOutcome } from './outcome-recorder.js';

/** The Postgres channel that tells dispatchers messages were queued (see OutboxSignal). */
export const MESSAGES_QUEUED_CHANNEL = 'messages_queued';

export interface DispatcherOptions {
  database: Pick<DatabaseHandle, 'db' | 'kind' | 'pool'>;
  channels: ChannelRegistry;
  /** Loads a live chat with its secrets (LiveChatService fits). */
  liveChats: { get(id: string): Promise<LiveChat> };
  policy: RetryPolicy;
  /** The channel clients' deadline; the lease and the shutdown grace are derived from it. */
  providerTimeoutMs: number;
  logger: FastifyBaseLogger;
  observer?: DeliveryObserver | undefined;
  /** Messages in flight at once (default 128): under load each waits for its outcome's group write, so fewer would cap the rate. */
  concurrency?: number | undefined;
  /** How long a claim holds before another process may take the message (default 3 × provider timeout + 5 s). */
  leaseMs?: number | undefined;
  /** Longest sleep between looks at the outbox (default 250 ms on PGlite, 1 s on Postgres, which also LISTENs). */
  pollIntervalMs?: number | undefined;
  /** Jitter source, for tests. */
  random?: () => number;
}

const CLAIM_ERROR_BACKOFF_MAX_MS = 10_000;
/** Handed-over messages may wait for this many times the concurrency before new ones go to the outbox. */
const HANDOVER_BACKLOG_FACTOR = 4;
/** How long after a delivery ends the dispatcher looks for what it may have held back (a session's next message). */
const SLOT_WAKE_INTERVAL_MS = 20;

/**
 * Delivers the outbox. Claims due messages under a lease, each with its send slot (Pacer),
 * waits for the slot, calls the provider outside any transaction, then has the outcome written
 * guarded by the claim (OutcomeRecorder). Every replica runs one; they share the work through
 * SKIP LOCKED and each live chat's rate through its pacing row. Woken by `wake()` (messages
 * queued in this process), by NOTIFY on Postgres, and by a short poll. Messages handed over
 * already claimed (see OutboxQueue) wait in a HandoverQueue for a free slot.
 */
export class Dispatcher {
  readonly #db: DispatcherOptions['database']['db'];
  readonly #log: FastifyBaseLogger;
  readonly #concurrency: number;
  readonly #leaseMs: number;
  readonly #pollIntervalMs: number;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #handedOver: HandoverQueue;
  readonly #attempt: AttemptContext;
  readonly #shutdown = new AbortController();
  /** Fires when stopping starts: messages still waiting for their send slot go back to the outbox. */
  readonly #stopping = new AbortController();
  readonly #pacer: Pacer;
  readonly #claimer: OutboxClaimer;
  #slotWake: NodeJS.Timeout | null = null;
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  #loop: Promise<void> | null = null;
  #listener: NotificationListener | null = null;
  readonly #sleep = new LoopSleep();
  #nextRetryAt = Number.POSITIVE_INFINITY;

  constructor(private readonly options: DispatcherOptions) {
    this.#db = options.database.db;
    this.#log = options.logger.child({ component: 'dispatcher' });
    this.#concurrency = options.concurrency ?? 128;
    this.#leaseMs = options.leaseMs ?? options.providerTimeoutMs * 3 + 5_000;
    this.#pollIntervalMs = options.pollIntervalMs ?? (options.database.kind === 'pglite' ? 250 : 1_000);
    this.#handedOver = new HandoverQueue(options.providerTimeoutMs);
    const run = createQueryRunner({ db: this.#db, pool: options.database.pool }); // claims and reservations: prepared once
    this.#pacer = new Pacer(this.#db, run, this.#log, options.providerTimeoutMs + LEASE_MARGIN_MS);
    this.#claimer = new OutboxClaimer(this.#db, run, this.#pacer, { leaseMs: this.#leaseMs, pollIntervalMs: this.#pollIntervalMs });
    this.#attempt = attemptContext({ ...options, db: this.#db, log: this.#log, shutdown: this.#shutdown.signal });
  }

  /** Starts claiming in the background (and LISTENing on Postgres). Starting twice does nothing. */
  start(): void {
    if (this.#state !== 'new') return;
    this.#state = 'running';
    const pool = this.options.database.pool;
    if (this.options.database.kind === 'postgres' && pool) {
      this.#listener = new NotificationListener(pool.options, MESSAGES_QUEUED_CHANNEL, () => this.wake(), this.#log);
      this.#listener.start();
    }
    this.#loop = this.#run();
    this.#log.info({ concurrency: this.#concurrency, leaseMs: this.#leaseMs }, 'dispatcher started');
  }

  /**
   * The lease to queue a new message with, already claimed for this dispatcher, or null when
   * it should be queued for any dispatcher (this one is not running or has enough to do).
   * A message queued with it must then be given to handOver. Only for a message nothing can
   * precede: the first of a new session; and not while its live chat's messages wait for
   * send slots in the outbox (it would jump their queue).
   */
  leaseForNewMessage(liveChatId: string): number | null {
    if (this.#state !== 'running' || !this.#pacer.acceptsHandover(liveChatId)) return null;
    return this.#inFlight.size + this.#handedOver.length < this.#concurrency * HANDOVER_BACKLOG_FACTOR ? this.#leaseMs : null;
  }

  /**
   * Delivers a message claimed when it was queued (see leaseForNewMessage), without claiming it
   * from the outbox. One that cannot be delivered by this dispatcher any more is given back.
   */
  handOver(message: ClaimedMessage): void {
    if (this.#state !== 'running') void this.#giveBack([message]);
    else if (this.#inFlight.size < this.#concurrency) this.#track(message);
    else this.#handedOver.push(message);
  }

  /** Looks at the outbox now instead of at the next poll. Cheap; call it after queuing messages. */
  wake(): void {
    this.#sleep.wake(this.#state !== 'running');
  }

  /**
   * Messages of these live chats were queued for any dispatcher: looks at the outbox now, or,
   * when their send slots are all taken for a while, once they free up.
   */
  wakeFor(liveChatIds: Iterable<string>): void {
    let opensAt = Number.POSITIVE_INFINITY;
    for (const id of liveChatIds) opensAt = Math.min(opensAt, this.#pacer.claimOpensAt(id));
    if (opensAt >= this.#nextRetryAt) return;
    // Earlier than the loop meant to look: it looks now, and plans its sleep again.
    if (opensAt > 0) this.#nextRetryAt = opensAt;
    this.wake();
  }

  /**
   * Stops claiming, then lets deliveries in flight finish for up to `graceMs` (default: the
   * provider timeout plus a second, which is enough for all of them). Past that they are
   * cancelled and their messages given back to the outbox at once. Resolves when nothing is
   * held any more; the database must stay open until then.
   */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (this.#state === 'new') this.#state = 'stopped';
    if (this.#state === 'stopped') return;
    if (this.#state === 'running') {
      this.#state = 'stopping';
      this.#stopping.abort();
      this.#pacer.stop();
      this.wake();
    }
    await this.#listener?.stop();
    await this.#loop;
    if (this.#slotWake) clearTimeout(this.#slotWake);
    this.#slotWake = null;
    // Handed over but not started: back to the outbox, for another replica or the next start.
    await this.#giveBack(this.#handedOver.takeAll());
    const finished = await settleWithin([...this.#inFlight], options.graceMs ?? this.options.providerTimeoutMs + 1_000);
    if (!finished) {
      this.#log.warn({ inFlight: this.#inFlight.size }, 'cancelling deliveries still in flight');
      this.#shutdown.abort();
      await Promise.allSettled([...this.#inFlight]);
    }
    this.#state = 'stopped';
    this.#log.info('dispatcher stopped');
  }

  async #run(): Promise<void> {
    let claimFailures = 0;
    while (this.#state === 'running') {
      this.#sleep.awake();
      if (Date.now() >= this.#nextRetryAt) this.#nextRetryAt = Number.POSITIVE_INFINITY;
      const capacity = this.#concurrency - this.#inFlight.size - this.#handedOver.length;
      let claimed: ClaimedMessage[] = [];
      if (capacity > 0) {
        try {
          const claim = await this.#claimer.claim(capacity);
          claimed = claim.messages;
          // Messages left for their live chat's slots: looked at again once those free up.
          this.#nextRetryAt = Math.min(this.#nextRetryAt, claim.opensAt);
          claimFailures = 0;
        } catch (error) {
          if (this.#state !== 'running') break;
          const backoffMs = Math.min(CLAIM_ERROR_BACKOFF_MAX_MS, 250 * 2 ** claimFailures++);
          this.#log.error({ err: error, backoffMs }, 'could not claim messages');
          await this.#sleep.sleep(backoffMs, { ignoreWake: true });
          continue;
        }
        if (this.#state !== 'running') {
          // Stopped while claiming: give them back untried.
          await this.#giveBack(claimed);
          break;
        }
        for (const message of claimed) this.#track(message);
      }
      // A full batch means more may be due; otherwise wait for a wake, a retry or the poll.
      if (capacity > 0 && claimed.length === capacity) continue;
      await this.#sleep.sleep(Math.min(this.#pollIntervalMs, Math.max(10, this.#nextRetryAt - Date.now())));
    }
  }

  #track(message: ClaimedMessage): void {
    const delivery = this.#deliver(message).finally(() => {
      this.#inFlight.delete(delivery);
      // A free slot: the next message handed over, or maybe the session's next message is due now.
      if (!this.#startHandedOver()) this.#wakeSoon();
    });
    this.#inFlight.add(delivery);
  }

  /** Starts the next handed-over message worth starting; false when none was. */
  #startHandedOver(): boolean {
    if (this.#state !== 'running') return false;
    const { next, tooLate } = this.#handedOver.takeNext();
    void this.#giveBack(tooLate);
    if (next) this.#track(next);
    return next !== undefined;
  }

  /**
   * A wake for a slot that came free, at most one per SLOT_WAKE_INTERVAL_MS: under load a claim
   * after each delivery would mostly find nothing (new sessions' messages are handed over).
   */
  #wakeSoon(): void {
    if (this.#slotWake || this.#state !== 'running') return;
    this.#slotWake = setTimeout(() => {
      this.#slotWake = null;
      this.wake();
    }, SLOT_WAKE_INTERVAL_MS);
  }

  async #deliver(message: ClaimedMessage): Promise<void> {
    const retryAt = await attemptDelivery(message, this.#attempt, (m) => this.#pacer.waitForSlot(m, this.#stopping.signal));
    // A retry, or the session's next Telegram message (a second later): look again then.
    if (retryAt !== null) this.#nextRetryAt = Math.min(this.#nextRetryAt, retryAt);
    if (message.channel === 'telegram') this.#nextRetryAt = Math.min(this.#nextRetryAt, Date.now() + TELEGRAM_CHAT_INTERVAL_MS + 20);
  }

  #giveBack(messages: ClaimedMessage[]): Promise<void> {
    return giveBackClaims(this.#db, messages, this.#log);
  }
}
