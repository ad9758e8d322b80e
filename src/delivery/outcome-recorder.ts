import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { SendResult } from '../channels/channel-client.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import type { Database } from '../db/types.js';
import type { Kysely } from 'kysely';
import type { ChannelType } from '../domain/channel.js';
import { type ClaimedMessage, recordFailure, scheduleRetry } from './outbox-repository.js';
import { type RetryPolicy, nextStepAfterFailure } from './retry-policy.js';
import { SentRecorder } from './sent-recorder.js';
import { optOutBlockedRecipient } from '../consent/inbound.js';

export type DeliveryOutcome = 'sent' | 'retry' | 'failed';

/** Told about every finished delivery attempt, for metrics. Must not throw (it is ignored if it does). */
export interface DeliveryObserver {
  /** One attempt ended: the provider took the message, it was scheduled for a retry, or it failed for good. */
  delivered(channel: ChannelType, outcome: DeliveryOutcome): void;
}

const RECORD_RETRY_MAX_MS = 2_000;

/**
 * Writes what became of a delivery attempt, guarded by the claim: sent, a retry with backoff,
 * or failed for good. The provider has already acted, so a database that is briefly out of
 * reach is waited out — an outcome left unwritten would have the message sent again once its
 * lease ran out — until the lease runs out or shutdown cancels deliveries.
 */
export class OutcomeRecorder {
  readonly #sent: SentRecorder;

  constructor(
    private readonly options: {
      db: Kysely<Database>;
      policy: RetryPolicy;
      random?: (() => number) | undefined;
      observer?: DeliveryObserver | undefined;
      log: FastifyBaseLogger;
      /** Fires when shutdown cancels deliveries. */
      shutdown: AbortSignal;
    },
  ) {
    this.#sent = new SentRecorder(options.db);
  }

  /** Records the attempt's outcome; returns when a retry is due (epoch ms), if one was scheduled. */
  async record(message: ClaimedMessage, result: SendResult, log: () => FastifyBaseLogger): Promise<number | null> {
    for (let failures = 0; ; failures++) {
      try {
        return await this.#record(message, result, log);
      } catch (error) {
        const leaseLeftMs = message.lockedUntil.getTime() - Date.now();
        if (!isDatabaseUnavailable(error) || leaseLeftMs <= 0 || this.options.shutdown.aborted) throw error;
        const delayMs = Math.min(leaseLeftMs, RECORD_RETRY_MAX_MS, 100 * 2 ** failures);
        log().warn({ err: error, delayMs }, 'could not record the delivery outcome; retrying');
        await sleep(delayMs, undefined, { signal: this.options.shutdown }).catch(() => {});
      }
    }
  }

  /** Fails a message whose earlier claims ended without an outcome (their processes died mid-attempt). */
  async exhausted(message: ClaimedMessage): Promise<void> {
    await recordFailure(this.options.db, message, { code: 'attempts_exhausted', message: `No outcome after ${message.attempts - 1} attempts.` });
    this.observe(message.channel, 'failed');
  }

  async #record(message: ClaimedMessage, result: SendResult, log: () => FastifyBaseLogger): Promise<number | null> {
    const { db } = this.options;
    if (result.outcome === 'sent') {
      const recorded = await this.#sent.record(message, result);
      if (!recorded) log().warn({ providerMessageId: result.providerMessageId }, 'sent after the lease ran out; another dispatcher may send it again');
      else if (this.options.log.level === 'debug' || this.options.log.level === 'trace') log().debug({ providerMessageId: result.providerMessageId }, 'message sent');
      this.observe(message.channel, 'sent');
      return null;
    }
    if (this.options.shutdown.aborted && result.outcome === 'transient') {
      // Cancelled by shutdown: not the message's fault, and another replica may take it now.
      await scheduleRetry(db, message, { delayMs: 0, error: { code: result.code, message: result.message } });
      return null;
    }
    const step = nextStepAfterFailure(result, message.attempts, this.options.policy, this.options.random);
    if (step.action === 'retry') {
      await scheduleRetry(db, message, step);
      log().info({ error: step.error, delayMs: step.delayMs }, 'delivery failed; retrying later');
      this.observe(message.channel, 'retry');
      return Date.now() + step.delayMs;
    }
    // The person blocked the bot: they opted out of the live chat, and their other queued messages fail.
    if (result.outcome === 'permanent' && result.recipientBlocked) await optOutBlockedRecipient(db, message.liveChatId, message.peer);
    await recordFailure(db, message, step.error);
    log().warn({ error: step.error }, 'delivery failed for good');
    this.observe(message.channel, 'failed');
    return null;
  }

  observe(channel: ChannelType, outcome: DeliveryOutcome): void {
    try {
      this.options.observer?.delivered(channel, outcome);
    } catch (error) {
      this.options.log.warn({ err: error }, 'delivery observer threw');
    }
  }
}
