/**
 * Remembers authenticated keys for a second, so that a busy client's requests do not each
 * look their key up. A revocation takes effect at once in the process that revoked (it
 * clears the cache) and within KEY_CACHE_TTL_MS in every other replica.
 */
export const KEY_CACHE_TTL_MS = 1_000;
const MAX_ENTRIES = 10_000;

export class ApiKeyCache<T> {
  readonly #entries = new Map<string, { value: T; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  get(keyHash: string): T | undefined {
    const entry = this.#entries.get(keyHash);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.#entries.delete(keyHash);
      return undefined;
    }
    return entry.value;
  }

  set(keyHash: string, value: T): void {
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
    this.#entries.set(keyHash, { value, expiresAt: this.now() + KEY_CACHE_TTL_MS });
  }

  clear(): void {
    this.#entries.clear();
  }
}
