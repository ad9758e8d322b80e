import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { OutboundMessage, SendResult } from '../channels/channel-client.js';
import { transient } from '../channels/channel-client.js';
import type { ChannelRegistry } from '../channels/registry.js';
import type { DatabaseHandle } from '../db/connection.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import type { ChannelType } from '../domain/channel.js';
import type { LiveChat } from '../live-chats/model.js';
import { NotificationListener } from './notification-listener.js';
import { prepareOutboundMessage } from './outbound-message.js';
import { type ClaimedMessage, claimDueMessages, recordFailure, releaseClaims, scheduleRetry } from './outbox-repository.js';
import { SentRecorder } from './sent-recorder.js';
import { type RetryPolicy, nextStepAfterFailure } from './retry-policy.js';

/** The Postgres channel that tells dispatchers messages were queued (see OutboxSignal). */
export const MESSAGES_QUEUED_CHANNEL = 'messages_queued';

export type DeliveryOutcome = 'sent' | 'retry' | 'failed';

/** Told about every finished delivery attempt, for metrics. Must not throw (it is ignored if it does). */
export interface DeliveryObserver {
  /** One attempt ended: the provider took the message, it was scheduled for a retry, or it failed for good. */
  delivered(channel: ChannelType, outcome: DeliveryOutcome): void;
}

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
  /** Messages in flight at once (default 64). */
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
/** A handed-over message starts only with the provider timeout and this much more left of its lease. */
const HANDOVER_LEASE_MARGIN_MS = 5_000;
/** How long after a delivery ends the dispatcher looks for what it may have held back (a session's next message). */
const SLOT_WAKE_INTERVAL_MS = 20;
const RECORD_RETRY_MAX_MS = 2_000;

/**
 * Delivers the outbox. Claims due messages under a lease, calls the provider outside any
 * transaction, then writes the outcome guarded by the claim: sent, a retry with backoff, or
 * failed. Every replica runs one; they share the work through SKIP LOCKED. Woken by
 * `wake()` (messages queued in this process), by NOTIFY on Postgres, and by a short poll.
 */
export class Dispatcher {
  readonly #db: DispatcherOptions['database']['db'];
  readonly #log: FastifyBaseLogger;
  readonly #concurrency: number;
  readonly #leaseMs: number;
  readonly #pollIntervalMs: number;
  readonly #inFlight = new Set<Promise<void>>();
  #slotWake: NodeJS.Timeout | null = null;
  /** Messages handed over (claimed when they were queued) waiting for a free slot. */
  #handedOver: ClaimedMessage[] = [];
  readonly #shutdown = new AbortController();
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  #loop: Promise<void> | null = null;
  #listener: NotificationListener | null = null;
  #wakeRequested = false;
  #wakeUp: (() => void) | null = null;
  #nextRetryAt = Number.POSITIVE_INFINITY;
  /** When claims last looked for leases that ran out (they do so once per poll interval). */
  #expiredLeasesCheckedAt = Number.NEGATIVE_INFINITY;
  readonly #sentRecorder: SentRecorder;

  constructor(private readonly options: DispatcherOptions) {
    this.#db = options.database.db;
    this.#sentRecorder = new SentRecorder(this.#db);
    this.#log = options.logger.child({ component: 'dispatcher' });
    this.#concurrency = options.concurrency ?? 64;
    this.#leaseMs = options.leaseMs ?? options.providerTimeoutMs * 3 + 5_000;
    this.#pollIntervalMs = options.pollIntervalMs ?? (options.database.kind === 'pglite' ? 250 : 1_000);
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
   * precede: the first of a new session.
   */
  leaseForNewMessage(): number | null {
    if (this.#state !== 'running') return null;
    return this.#inFlight.size + this.#handedOver.length < this.#concurrency * HANDOVER_BACKLOG_FACTOR ? this.#leaseMs : null;
  }

  /**
   * Delivers a message claimed when it was queued (see leaseForNewMessage), without claiming it
   * from the outbox. One that cannot be delivered by this dispatcher any more is given back.
   */
  handOver(message: ClaimedMessage): void {
    if (this.#state !== 'running') {
      void this.#giveBack([message]);
      return;
    }
    if (this.#inFlight.size < this.#concurrency) this.#track(message);
    else this.#handedOver.push(message);
  }

  /** Gives claims back to the outbox untried (see releaseClaims); a failure is logged, not thrown. */
  async #giveBack(messages: ClaimedMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await releaseClaims(this.#db, messages).then(
      () => undefined,
      (error: unknown) => this.#log.error({ err: error }, 'could not release claims'),
    );
  }

  /**
   * A wake for a slot that came free, at most one per SLOT_WAKE_INTERVAL_MS: under load
   * deliveries end hundreds of times a second, and a claim after each would mostly find
   * nothing (new sessions' messages are handed over, not claimed).
   */
  #wakeSoon(): void {
    if (this.#slotWake || this.#state !== 'running') return;
    this.#slotWake = setTimeout(() => {
      this.#slotWake = null;
      this.wake();
    }, SLOT_WAKE_INTERVAL_MS);
  }

  /** Looks at the outbox now instead of at the next poll. Cheap; call it after queuing messages. */
  wake(): void {
    this.#wakeRequested = true;
    this.#wakeUp?.();
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
      this.wake();
    }
    await this.#listener?.stop();
    await this.#loop;
    if (this.#slotWake) clearTimeout(this.#slotWake);
    this.#slotWake = null;
    // Handed over but not started: back to the outbox, for another replica or the next start.
    const waiting = this.#handedOver;
    this.#handedOver = [];
    await this.#giveBack(waiting);
    const graceMs = options.graceMs ?? this.options.providerTimeoutMs + 1_000;
    const settled = Promise.allSettled([...this.#inFlight]);
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([settled.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)))]);
    clearTimeout(timer);
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
      this.#wakeRequested = false;
      if (Date.now() >= this.#nextRetryAt) this.#nextRetryAt = Number.POSITIVE_INFINITY;
      const capacity = this.#concurrency - this.#inFlight.size - this.#handedOver.length;
      let claimed: ClaimedMessage[] = [];
      if (capacity > 0) {
        try {
          const expiredLeases = Date.now() - this.#expiredLeasesCheckedAt >= this.#pollIntervalMs;
          claimed = await claimDueMessages(this.#db, { limit: capacity, leaseMs: this.#leaseMs, expiredLeases });
          if (expiredLeases) this.#expiredLeasesCheckedAt = Date.now();
          claimFailures = 0;
        } catch (error) {
          if (this.#state !== 'running') break;
          const backoffMs = Math.min(CLAIM_ERROR_BACKOFF_MAX_MS, 250 * 2 ** claimFailures++);
          this.#log.error({ err: error, backoffMs }, 'could not claim messages');
          await this.#sleep(backoffMs, { ignoreWake: true });
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
      await this.#sleep(Math.min(this.#pollIntervalMs, Math.max(10, this.#nextRetryAt - Date.now())));
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

  /**
   * Starts the next handed-over message that still has enough of its lease left; those with too
   * little (another dispatcher could take them meanwhile) go back to the outbox. False when
   * none was started.
   */
  #startHandedOver(): boolean {
    const tooLate: ClaimedMessage[] = [];
    let started = false;
    while (!started && this.#state === 'running' && this.#handedOver.length > 0) {
      const message = this.#handedOver.shift()!;
      if (message.lockedUntil.getTime() - Date.now() < this.options.providerTimeoutMs + HANDOVER_LEASE_MARGIN_MS) tooLate.push(message);
      else {
        this.#track(message);
        started = true;
      }
    }
    void this.#giveBack(tooLate);
    return started;
  }

  async #deliver(message: ClaimedMessage): Promise<void> {
    // Made only when something is logged: most deliveries log nothing.
    let child: FastifyBaseLogger | undefined;
    const log = () => (child ??= this.#log.child({ messageId: message.id, sessionId: message.sessionId, attempt: message.attempts }));
    try {
      if (message.attempts > this.options.policy.maxAttempts) {
        // Earlier claims ended without an outcome (their processes died mid-attempt).
        await recordFailure(this.#db, message, { code: 'attempts_exhausted', message: `No outcome after ${message.attempts - 1} attempts.` });
        this.#observe(message.channel, 'failed');
        return;
      }
      const prepared = await prepareOutboundMessage(this.#db, message);
      let result: SendResult;
      if ('outcome' in prepared) {
        result = prepared;
      } else {
        const liveChat = await this.options.liveChats.get(message.liveChatId);
        if (this.#shutdown.signal.aborted) {
          await releaseClaims(this.#db, [message]);
          return;
        }
        result = await this.#send(liveChat, prepared);
      }
      await this.#recordOutcome(message, result, log);
    } catch (error) {
      log().error({ err: error }, 'delivery bookkeeping failed; the message is retried once its lease runs out');
    }
  }

  async #send(liveChat: LiveChat, message: OutboundMessage): Promise<SendResult> {
    // Retried, not failed: the right SECRETS_KEY may be configured again.
    if (!liveChat.secretsReadable) return transient('secrets_unreadable', 'The live chat’s channel secrets cannot be decrypted with SECRETS_KEY.');
    try {
      return await this.options.channels.clientFor(liveChat.channel.type).send(liveChat, message, this.#shutdown.signal);
    } catch (error) {
      // A client must not throw; if one does, treat it as a passing fault.
      return transient('client_error', error instanceof Error ? error.message : String(error));
    }
  }

  /**
   * Writes the attempt's outcome, waiting out a database that is briefly out of reach (a
   * restart): the provider has already acted, and an outcome left unwritten would have the
   * message sent again once its lease ran out. Gives up when the lease runs out or shutdown
   * cancels deliveries.
   */
  async #recordOutcome(message: ClaimedMessage, result: SendResult, log: () => FastifyBaseLogger): Promise<void> {
    for (let failures = 0; ; failures++) {
      try {
        return await this.#record(message, result, log);
      } catch (error) {
        const leaseLeftMs = message.lockedUntil.getTime() - Date.now();
        if (!isDatabaseUnavailable(error) || leaseLeftMs <= 0 || this.#shutdown.signal.aborted) throw error;
        const delayMs = Math.min(leaseLeftMs, RECORD_RETRY_MAX_MS, 100 * 2 ** failures);
        log().warn({ err: error, delayMs }, 'could not record the delivery outcome; retrying');
        await sleep(delayMs, undefined, { signal: this.#shutdown.signal }).catch(() => {});
      }
    }
  }

  async #record(message: ClaimedMessage, result: SendResult, log: () => FastifyBaseLogger): Promise<void> {
    if (result.outcome === 'sent') {
      const recorded = await this.#sentRecorder.record(message, result);
      if (!recorded) log().warn({ providerMessageId: result.providerMessageId }, 'sent after the lease ran out; another dispatcher may send it again');
      else if (this.#log.level === 'debug' || this.#log.level === 'trace') log().debug({ providerMessageId: result.providerMessageId }, 'message sent');
      this.#observe(message.channel, 'sent');
      return;
    }
    if (this.#shutdown.signal.aborted && result.outcome === 'transient') {
      // Cancelled by shutdown: not the message's fault, and another replica may take it now.
      await scheduleRetry(this.#db, message, { delayMs: 0, error: { code: result.code, message: result.message } });
      return;
    }
    const step = nextStepAfterFailure(result, message.attempts, this.options.policy, this.options.random);
    if (step.action === 'retry') {
      await scheduleRetry(this.#db, message, step);
      this.#nextRetryAt = Math.min(this.#nextRetryAt, Date.now() + step.delayMs);
      log().info({ error: step.error, delayMs: step.delayMs }, 'delivery failed; retrying later');
      this.#observe(message.channel, 'retry');
    } else {
      await recordFailure(this.#db, message, step.error);
      log().warn({ error: step.error }, 'delivery failed for good');
      this.#observe(message.channel, 'failed');
    }
  }

  #observe(channel: ChannelType, outcome: DeliveryOutcome): void {
    try {
      this.options.observer?.delivered(channel, outcome);
    } catch (error) {
      this.#log.warn({ err: error }, 'delivery observer threw');
    }
  }

  /** Sleeps up to `ms`, or until woken (a wake during the last claim counts). */
  #sleep(ms: number, options: { ignoreWake?: boolean } = {}): Promise<void> {
    if (this.#state !== 'running') return Promise.resolve();
    if (this.#wakeRequested && !options.ignoreWake) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      // Only stop() may cut an error backoff short.
      this.#wakeUp = options.ignoreWake ? () => (this.#state !== 'running' ? done() : undefined) : done;
    });
  }
}
