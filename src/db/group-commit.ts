import { isDatabaseUnavailable } from './errors.js';

export interface GroupCommitOptions<T> {
  /** Most statements in flight at once (each holds a pooled connection while it runs). */
  maxInFlight: number;
  /** Most items in one statement (default 100). */
  maxBatch?: number | undefined;
  /** While a statement runs, another starts only once this many items wait (default 16). */
  overlapAt?: number | undefined;
  /** Items of different kinds never share a statement (each kind has its own). */
  kindOf?: ((item: T) => string) | undefined;
  /** Items with the same key never share a statement (they would touch one row twice). */
  exclusiveKey?: ((item: T) => string | null) | undefined;
}

interface Pending<T, R> {
  item: T;
  /** Its group's statement failed: it is now written in a statement of its own. */
  alone: boolean;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Writes items in groups (group commit): while a statement runs, the items that arrive wait
 * and go together in the next one; more statements (up to `maxInFlight`) run at once only when
 * enough wait to make a sizeable group — a statement of a few items costs Postgres nearly as
 * much as one of many (its round trip, its commit). When idle, each item is written at once,
 * alone, so nothing ever waits for a timer.
 *
 * One failure rule: when a group's statement fails (other than the database being out of
 * reach), its items are written again one by one, so one bad item fails only itself.
 * `writeGroup` returns one result per item, in order.
 */
export class GroupCommitter<T, R> {
  readonly #queue: Pending<T, R>[] = [];
  readonly #maxInFlight: number;
  readonly #maxBatch: number;
  readonly #overlapAt: number;
  #inFlight = 0;

  constructor(
    private readonly writeGroup: (items: T[]) => Promise<R[]>,
    private readonly options: GroupCommitOptions<T>,
  ) {
    this.#maxInFlight = Math.max(1, options.maxInFlight);
    this.#maxBatch = Math.max(1, options.maxBatch ?? 100);
    this.#overlapAt = Math.max(1, Math.min(this.#maxBatch, options.overlapAt ?? 16));
  }

  /** Resolves with the item's result once its statement committed; rejects when it failed. */
  write(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, alone: false, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      if (this.#inFlight > 0 && this.#queue.length < this.#overlapAt && !this.#queue[0]!.alone) return;
      const group = this.#takeGroup();
      this.#inFlight += 1;
      void this.#write(group).finally(() => {
        this.#inFlight -= 1;
        this.#pump();
      });
    }
  }

  /** The next group in arrival order: the head's kind, no two items with one exclusive key. */
  #takeGroup(): Pending<T, R>[] {
    if (this.#queue[0]!.alone) return [this.#queue.shift()!];
    const kind = this.options.kindOf?.(this.#queue[0]!.item);
    const group: Pending<T, R>[] = [];
    const keys = new Set<string>();
    let i = 0;
    while (i < this.#queue.length && group.length < this.#maxBatch) {
      const pending = this.#queue[i]!;
      if (pending.alone) break;
      const key = this.options.exclusiveKey?.(pending.item) ?? null;
      if ((kind !== undefined && this.options.kindOf!(pending.item) !== kind) || (key !== null && keys.has(key))) {
        i += 1;
        continue;
      }
      if (key !== null) keys.add(key);
      group.push(pending);
      this.#queue.splice(i, 1);
    }
    return group;
  }

  async #write(group: Pending<T, R>[]): Promise<void> {
    let results: R[];
    try {
      results = await this.writeGroup(group.map((p) => p.item));
    } catch (error) {
      if (group.length > 1 && !isDatabaseUnavailable(error)) {
        // Each on its own, first in the queue, no more at once than any statements.
        for (const p of group) p.alone = true;
        this.#queue.unshift(...group);
        return;
      }
      for (const p of group) p.reject(error);
      return;
    }
    group.forEach((p, i) => p.resolve(results[i]!));
  }
}

/**
 * Group commit of outcomes guarded by a claim (one statement at a time, up to 500 outcomes in
 * it): `writeGroup` writes those whose claim still holds and returns their ids; each outcome
 * resolves true once written, false when its claim no longer held.
 */
export function claimGuardedCommitter<T extends { claim: { id: string } }>(writeGroup: (items: T[]) => Promise<Set<string>>): GroupCommitter<T, boolean> {
  return new GroupCommitter(
    async (items) => {
      const written = await writeGroup(items);
      return items.map((item) => written.has(item.claim.id));
    },
    { maxInFlight: 1, maxBatch: 500 },
  );
}
