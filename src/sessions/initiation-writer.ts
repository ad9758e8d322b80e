import type { Kysely } from 'kysely';
import { isDatabaseUnavailable } from '../db/errors.js';
import type { QueryRunner } from '../db/prepared.js';
import type { Database } from '../db/types.js';
import { type InitiationWrite, type WrittenInitiation, writeInitiations } from './initiation-repository.js';

interface Pending {
  write: InitiationWrite;
  /** Its group's statement failed: it is now written in a statement of its own. */
  alone?: boolean;
  resolve: (written: WrittenInitiation | undefined) => void;
  reject: (error: unknown) => void;
}

export interface InitiationWriterOptions {
  /** Most statements in flight at once (each holds a pooled connection while it runs). */
  maxInFlight: number;
  /** Most initiations in one statement (default 100). */
  maxBatch?: number | undefined;
  /** While a statement runs, another starts only once this many initiations wait (default 16). */
  overlapAt?: number | undefined;
}

const FOREIGN_KEY_VIOLATION = '23503';

/**
 * Writes initiations in groups (group commit): while a statement runs, the initiations that
 * arrive wait and go together in the next one; more statements (up to `maxInFlight`) run at
 * once only when enough wait to make a sizeable group. When the service is not busy each
 * initiation is written at once, alone, so nothing ever waits for a timer; under load many
 * share one round trip and one commit, which is most of what each would cost alone.
 *
 * Each initiation's outcome is its own: written, or not written (undefined: the operator is
 * not assigned, the contact is gone, or another open session holds the person — the caller
 * finds out which). If a group's statement fails, its initiations are tried again one by one,
 * so one bad initiation fails only itself.
 */
export class InitiationWriter {
  readonly #queue: Pending[] = [];
  readonly #maxInFlight: number;
  readonly #maxBatch: number;
  readonly #overlapAt: number;
  #inFlight = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly run: QueryRunner,
    options: InitiationWriterOptions,
  ) {
    this.#maxInFlight = Math.max(1, options.maxInFlight);
    this.#maxBatch = Math.max(1, options.maxBatch ?? 100);
    this.#overlapAt = Math.max(1, Math.min(this.#maxBatch, options.overlapAt ?? 16));
  }

  /** Resolves with the written session and message, or undefined when it was not written. */
  write(write: InitiationWrite): Promise<WrittenInitiation | undefined> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ write, resolve, reject });
      this.#pump();
    });
  }

  /**
   * Starts statements for what waits. While one runs, another starts only for a group of at
   * least `overlapAt` (or for initiations retried alone): a statement with a few initiations
   * costs Postgres nearly as much as one with many (its round trip, its commit), and waiting for
   * the running one fills the next group.
   */
  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      if (this.#inFlight > 0 && this.#queue.length < this.#overlapAt && !this.#queue[0]!.alone) return;
      const group = this.#takeGroup();
      this.#inFlight += 1;
      void this.#writeGroup(group).finally(() => {
        this.#inFlight -= 1;
        this.#pump();
      });
    }
  }

  /**
   * The next group in arrival order. An initiation that would extend an existing contact that
   * one already in the group extends waits for the next group.
   */
  #takeGroup(): Pending[] {
    if (this.#queue[0]?.alone) return [this.#queue.shift()!];
    const group: Pending[] = [];
    const contacts = new Set<string>();
    let i = 0;
    while (i < this.#queue.length && group.length < this.#maxBatch) {
      const pending = this.#queue[i]!;
      if (pending.alone) break;
      const contactId = 'id' in pending.write.contact ? pending.write.contact.id : null;
      if (contactId !== null && contacts.has(contactId)) {
        i += 1;
        continue;
      }
      if (contactId !== null) contacts.add(contactId);
      group.push(pending);
      this.#queue.splice(i, 1);
    }
    return group;
  }

  async #writeGroup(group: Pending[]): Promise<void> {
    let written: Map<number, WrittenInitiation>;
    try {
      written = await writeInitiations(
        this.db,
        group.map((p) => p.write),
        this.run,
      );
    } catch (error) {
      if (group.length > 1 && !isDatabaseUnavailable(error)) {
        // One of them may be at fault (text Postgres cannot store, a contact deleted meanwhile,
        // a deadlock with another group): each on its own, so only that one fails. They go
        // first in the queue, and run no more at once than any statements do.
        for (const p of group) p.alone = true;
        this.#queue.unshift(...group);
        return;
      }
      for (const p of group) {
        // Its contact was deleted between the check and the write: not written.
        if ((error as { code?: unknown } | null)?.code === FOREIGN_KEY_VIOLATION) p.resolve(undefined);
        else p.reject(error);
      }
      return;
    }
    group.forEach((p, i) => p.resolve(written.get(i)));
  }
}
