import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import { type Claim, recordSentBatch } from './outbox-repository.js';

interface Pending {
  entry: { claim: Claim; providerMessageId: string; providerRecipient: string | null };
  resolve: (recorded: boolean) => void;
  reject: (error: unknown) => void;
}

/**
 * Writes "sent" outcomes in groups: while one group's statement runs, the outcomes that arrive
 * wait and go in the next one. Under load many deliveries share a commit; when idle each one
 * is written at once, so nothing waits for a timer.
 */
export class SentRecorder {
  #waiting: Pending[] = [];
  #flushing = false;

  constructor(private readonly db: Kysely<Database>) {}

  /** Resolves true once written, false when the claim no longer held; rejects if the write failed. */
  record(claim: Claim, result: { providerMessageId: string; providerRecipient: string | null }): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ entry: { claim, providerMessageId: result.providerMessageId, providerRecipient: result.providerRecipient }, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    while (this.#waiting.length > 0) {
      const group = this.#waiting.splice(0, 500);
      try {
        const recorded = await recordSentBatch(
          this.db,
          group.map((p) => p.entry),
        );
        for (const p of group) p.resolve(recorded.has(p.entry.claim.id));
      } catch (error) {
        for (const p of group) p.reject(error);
      }
    }
    this.#flushing = false;
  }
}
