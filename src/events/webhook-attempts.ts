import type { Clock } from '../clock.js';
import { retryDelayMs } from '../delivery/retry-policy.js';
import type { SecretBox } from '../live-chats/secret-box.js';
import type { AttemptResult } from './delivery-claims.js';
import { signWebhook } from './signature.js';
import { signingSecretsCache } from './subscription-secrets.js';
import type { WebhookOutcome, WebhookSender } from './webhook-sender.js';

/** Where an attempt goes and what signs it: a subscription as a claim or a window read it. */
export interface WebhookTarget {
  url: string;
  sealedSecrets: string;
  previousSecretExpiresAt: Date | null;
}

/**
 * Makes one attempt of an event at a subscription — signs it the Standard Webhooks way, POSTs
 * it outside any transaction — and decides what follows: delivered on a 2xx; otherwise retried
 * with backoff until the last attempt, then failed.
 */
export class WebhookAttempts {
  readonly #signingSecrets: ReturnType<typeof signingSecretsCache>;

  constructor(
    private readonly options: {
      sender: WebhookSender;
      secrets: SecretBox;
      clock: Clock;
      policy: { maxAttempts: number; baseMs: number; maxMs: number };
      /** Cancels attempts in flight (shutdown). */
      shutdown: AbortSignal;
      random?: (() => number) | undefined;
    },
  ) {
    this.#signingSecrets = signingSecretsCache(options.secrets);
    options.shutdown.addEventListener('abort', () => options.sender.cancelAll(), { once: true });
  }

  /** The attempt numbered `attempts` of the event with this id and body (the Event JSON); null when shutdown cancelled it (it does not count). */
  async make(target: WebhookTarget, event: { id: string; body: string }, attempts: number): Promise<AttemptResult | null> {
    const outcome = await this.#send(target, event);
    if (!outcome.delivered && this.options.shutdown.aborted) return null;
    return this.resultOf(outcome, attempts);
  }

  resultOf(outcome: WebhookOutcome, attempts: number): AttemptResult {
    if (outcome.delivered) return { status: 'delivered', statusCode: outcome.statusCode };
    const { statusCode, error } = outcome;
    const { policy } = this.options;
    if (attempts >= policy.maxAttempts) return { status: 'failed', statusCode, error: `${error} (gave up after ${attempts} attempts)` };
    return { status: 'pending', delayMs: retryDelayMs(attempts, policy, this.options.random), statusCode, error };
  }

  async #send(target: WebhookTarget, event: { id: string; body: string }): Promise<WebhookOutcome> {
    const now = this.options.clock.now();
    let secrets: string[];
    try {
      secrets = this.#signingSecrets(target.sealedSecrets, target.previousSecretExpiresAt, now);
    } catch {
      return { delivered: false, statusCode: null, error: 'The subscription secret cannot be decrypted with SECRETS_KEY.' };
    }
    const timestamp = Math.floor(now.getTime() / 1000);
    const signature = signWebhook(secrets, event.id, timestamp, event.body);
    return this.options.sender.send({ url: target.url, id: event.id, timestamp, body: event.body, signature });
  }
}
