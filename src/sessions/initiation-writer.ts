import type { Kysely } from 'kysely';
import { GroupCommitter } from '../db/group-commit.js';
import type { QueryRunner } from '../db/prepared.js';
import type { Database } from '../db/types.js';
import { type InitiationWrite, type WrittenInitiation, writeCreates, writeReopens } from './initiation-repository.js';
import { isOpenSessionConflict } from './repository.js';

const FOREIGN_KEY_VIOLATION = '23503';

export interface InitiationWriterOptions {
  /** Most statements in flight at once (each holds a pooled connection while it runs). */
  maxInFlight: number;
  /** Most initiations in one statement (default 100). */
  maxBatch?: number | undefined;
  /** While a statement runs, another starts only once this many initiations wait (default 16). */
  overlapAt?: number | undefined;
}

/**
 * The one writer of new and reopened sessions: concurrent initiations share a statement and a
 * commit (see GroupCommitter), creations and reopenings each in statements of their kind. Each
 * initiation's outcome is its own: written, or not written (undefined) when a guard held it
 * back — the caller's rules say which.
 */
export class InitiationWriter {
  readonly #committer: GroupCommitter<InitiationWrite, WrittenInitiation | undefined>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly run: QueryRunner,
    options: InitiationWriterOptions,
  ) {
    this.#committer = new GroupCommitter((writes) => this.#writeGroup(writes), {
      ...options,
      kindOf: (w) => w.kind,
      // One statement updates a row once: two writes extending one contact, or reopening one
      // session, go in different statements.
      exclusiveKey: (w) => (w.kind === 'reopen' ? `session:${w.sessionId}` : 'id' in w.contact ? `contact:${w.contact.id}` : null),
    });
  }

  /** Resolves with the written session and message, or undefined when a guard held it back. */
  write(write: InitiationWrite): Promise<WrittenInitiation | undefined> {
    return this.#committer.write(write);
  }

  async #writeGroup(writes: InitiationWrite[]): Promise<(WrittenInitiation | undefined)[]> {
    try {
      return writes[0]!.kind === 'create'
        ? await writeCreates(this.db, writes as Extract<InitiationWrite, { kind: 'create' }>[], this.run)
        : await writeReopens(this.db, writes as Extract<InitiationWrite, { kind: 'reopen' }>[], this.run);
    } catch (error) {
      // Alone, a write that lost a race to a guard is simply not written: its contact was
      // deleted meanwhile (foreign key), or a concurrent write took the person (the
      // open-session indexes, which a reopening's UPDATE cannot skip).
      const code = (error as { code?: unknown } | null)?.code;
      if (writes.length === 1 && (code === FOREIGN_KEY_VIOLATION || isOpenSessionConflict(error))) return [undefined];
      throw error;
    }
  }
}
