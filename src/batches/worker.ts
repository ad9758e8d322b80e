import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { isDatabaseUnavailable } from '../db/errors.js';
import type { Database } from '../db/types.js';
import type { RecipientError } from '../domain/batch.js';
import { Refusal } from '../domain/refusal.js';
import { statusOfRefusal } from '../http/refusal-status.js';
import type { InitiateSessionInput, SessionInitiation } from '../sessions/initiation.js';
import { type ClaimedRecipient, claimRecipients, recordRefusals } from './repository.js';
import type { BatchService } from './service.js';

export interface BatchWorkerOptions {
  /** Recipients claimed at once; they are initiated together, many to a statement (default 200). */
  chunk?: number | undefined;
  /** How long a claim holds before another replica may take the recipient (default 60 s). */
  leaseMs?: number | undefined;
  /** Longest sleep between looks for work (default 1 s). */
  pollMs?: number | undefined;
  /** Attempts before a recipient that keeps failing (not refused: failing) is refused as an internal error (default 5). */
  maxAttempts?: number | undefined;
  observer?: { recipient(outcome: 'created' | 'refused'): void } | undefined;
}

/**
 * Initiates batches' recipients, in every replica: claims a chunk of pending recipients (SKIP
 * LOCKED, under a lease), initiates each through the same pipeline as POST /sessions — the
 * session written together with the recipient's outcome, so a crash leaves neither without
 * the other — records the refusals, and ends each batch with nothing pending. A replica that
 * dies leaves its claims to run out; another takes the recipients then.
 */
export class BatchWorker {
  readonly #log: FastifyBaseLogger;
  readonly #chunk: number;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #maxAttempts: number;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #woken = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly initiation: SessionInitiation,
    private readonly batches: BatchService,
    log: FastifyBaseLogger,
    private readonly options: BatchWorkerOptions = {},
  ) {
    this.#log = log.child({ component: 'batch-worker' });
    this.#chunk = options.chunk ?? 200;
    this.#leaseMs = options.leaseMs ?? 60_000;
    this.#pollMs = options.pollMs ?? 1_000;
    this.#maxAttempts = options.maxAttempts ?? 5;
  }

  start(): void {
    if (this.#running || this.#loop) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Finishes the chunk in hand, then stops. */
  async stop(): Promise<void> {
    this.#running = false;
    this.wake();
    await this.#loop;
  }

  /** Looks for work now (a batch was accepted in this process). */
  wake(): void {
    this.#woken = true;
    this.#wake?.();
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (this.#running) {
      this.#woken = false;
      let claimed = 0;
      try {
        claimed = await this.runOnce();
        failures = 0;
      } catch (error) {
        failures += 1;
        this.#log.error({ err: error }, 'could not work on session batches');
        await this.#sleep(Math.min(10_000, 250 * 2 ** failures));
        continue;
      }
      if (claimed < this.#chunk) await this.#sleep(this.#pollMs);
    }
  }

  /** Claims one chunk of pending recipients and initiates them; returns how many it claimed. */
  async runOnce(): Promise<number> {
    const claimed = await claimRecipients(this.db, { limit: this.#chunk, leaseMs: this.#leaseMs });
    if (claimed.length > 0) await this.#process(claimed);
    return claimed.length;
  }

  /** One chunk: every recipient at once (the initiation writer groups them), then the refusals and the batches' ends. */
  async #process(recipients: ClaimedRecipient[]): Promise<void> {
    const refusals: { recipient: ClaimedRecipient; error: RecipientError }[] = [];
    await Promise.all(
      recipients.map(async (recipient) => {
        try {
          await this.initiation.initiateRecipient(initiationOf(recipient), { batchId: recipient.batchId, index: recipient.index, lease: recipient.lockedUntil });
          this.options.observer?.recipient('created');
        } catch (error) {
          if (error instanceof Refusal) {
            refusals.push({ recipient, error: recipientError(error) });
          } else if (!isDatabaseUnavailable(error) && recipient.attempts >= this.#maxAttempts) {
            this.#log.error({ err: error, batchId: recipient.batchId, index: recipient.index }, 'a batch recipient kept failing; refused');
            refusals.push({ recipient, error: { status: 500, code: 'internal_error', detail: 'The recipient could not be initiated.' } });
          } else {
            // Left to its lease: tried again once it runs out.
            this.#log.warn({ err: error, batchId: recipient.batchId, index: recipient.index }, 'could not initiate a batch recipient; retrying later');
          }
        }
      }),
    );
    await recordRefusals(this.db, refusals);
    for (const _ of refusals) this.options.observer?.recipient('refused');
    for (const batchId of new Set(recipients.map((r) => r.batchId))) await this.batches.finishIfDone(batchId);
  }

  #sleep(ms: number): Promise<void> {
    if (this.#woken || !this.#running) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}

/** The POST /sessions body a recipient stands for: the batch's message, its own parameters. */
function initiationOf(recipient: ClaimedRecipient): InitiateSessionInput {
  const { input, message } = recipient;
  const template = message.template && input.parameters !== undefined ? { ...message.template, parameters: input.parameters } : message.template;
  return {
    liveChatId: recipient.liveChatId,
    operatorId: recipient.operatorId,
    contactId: input.contactId,
    contact: input.contact,
    account: input.account,
    message: template ? { template } : message,
  };
}

function recipientError(refusal: Refusal): RecipientError {
  const existing = refusal.extensions.existingSessionId;
  return { status: statusOfRefusal(refusal.code), code: refusal.code, detail: refusal.message, ...(typeof existing === 'string' ? { existingSessionId: existing } : {}) };
}
