import type { Kysely } from 'kysely';
import { type GroupCommitter, claimGuardedCommitter } from '../db/group-commit.js';
import type { Database } from '../db/types.js';
import { type Claim, recordSentBatch } from './outbox-repository.js';

interface SentEntry {
  claim: Claim;
  providerMessageId: string;
  providerRecipient: string | null;
}

/**
 * Writes "sent" outcomes in groups (see GroupCommitter): one statement at a time, and the
 * outcomes that arrive meanwhile go in the next. Under load many deliveries share a commit;
 * when idle each is written at once.
 */
export class SentRecorder {
  readonly #committer: GroupCommitter<SentEntry, boolean>;

  constructor(db: Kysely<Database>) {
    this.#committer = claimGuardedCommitter((entries) => recordSentBatch(db, entries));
  }

  /** Resolves true once written, false when the claim no longer held; rejects if the write failed. */
  record(claim: Claim, result: { providerMessageId: string; providerRecipient: string | null }): Promise<boolean> {
    return this.#committer.write({ claim, providerMessageId: result.providerMessageId, providerRecipient: result.providerRecipient });
  }
}
