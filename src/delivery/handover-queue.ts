import type { ClaimedMessage } from './outbox-repository.js';

/** A claimed message starts only with the provider timeout and this much more left of its lease. */
export const LEASE_MARGIN_MS = 5_000;

/**
 * Messages handed to this replica's dispatcher already claimed (the first message of a new
 * session), waiting for a free delivery slot. One whose lease ran low while it waited is not
 * started — another dispatcher could take it meanwhile — but given back to the outbox.
 */
export class HandoverQueue {
  #waiting: ClaimedMessage[] = [];

  constructor(private readonly providerTimeoutMs: number) {}

  get length(): number {
    return this.#waiting.length;
  }

  push(message: ClaimedMessage): void {
    this.#waiting.push(message);
  }

  /** The next message still worth starting, and those to give back because their lease ran too low. */
  takeNext(now = Date.now()): { next: ClaimedMessage | undefined; tooLate: ClaimedMessage[] } {
    const tooLate: ClaimedMessage[] = [];
    while (this.#waiting.length > 0) {
      const message = this.#waiting.shift()!;
      if (message.lockedUntil.getTime() - now >= this.providerTimeoutMs + LEASE_MARGIN_MS) return { next: message, tooLate };
      tooLate.push(message);
    }
    return { next: undefined, tooLate };
  }

  /** Everything still waiting (to give back when stopping). */
  takeAll(): ClaimedMessage[] {
    const all = this.#waiting;
    this.#waiting = [];
    return all;
  }
}
