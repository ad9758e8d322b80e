const WINDOW_MS = 60_000;
// Enough for a flood from many addresses; past it the oldest windows are forgotten first.
const MAX_ADDRESSES = 100_000;

/**
 * Counts failed authentications per client address in windows of a minute. Once an address has
 * failed `limit` times in its window, it is blocked until the window ends: its next requests with
 * credentials are refused before any hashing, query or decryption. In memory, so per replica.
 */
export class AuthFailureLimiter {
  readonly #windows = new Map<string, { startedAt: number; failures: number }>();

  constructor(
    private readonly limit: number,
    private readonly now: () => number,
  ) {}

  /** Milliseconds until the address may authenticate again; 0 when it may now. */
  blockedFor(address: string): number {
    if (this.limit === 0) return 0;
    const window = this.#windows.get(address);
    if (!window) return 0;
    const left = window.startedAt + WINDOW_MS - this.now();
    if (left <= 0) {
      this.#windows.delete(address);
      return 0;
    }
    return window.failures >= this.limit ? left : 0;
  }

  /** Counts one failed authentication from the address. */
  recordFailure(address: string): void {
    if (this.limit === 0) return;
    const now = this.now();
    const window = this.#windows.get(address);
    if (window && window.startedAt + WINDOW_MS > now) {
      window.failures++;
      return;
    }
    this.#windows.delete(address);
    if (this.#windows.size >= MAX_ADDRESSES) this.#forgetOldest();
    this.#windows.set(address, { startedAt: now, failures: 1 });
  }

  #forgetOldest(): void {
    // Insertion order is window start order: expired windows, then the oldest, go first.
    let drop = Math.ceil(MAX_ADDRESSES / 10);
    for (const address of this.#windows.keys()) {
      if (drop-- <= 0) break;
      this.#windows.delete(address);
    }
  }
}
