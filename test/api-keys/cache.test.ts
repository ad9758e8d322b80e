import { describe, expect, it } from 'vitest';
import { ApiKeyCache, KEY_CACHE_TTL_MS } from '../../src/api-keys/cache.js';

describe('ApiKeyCache', () => {
  it('forgets a key after a second, so a revocation in another replica holds within it', () => {
    let now = 1_000_000;
    const cache = new ApiKeyCache<string>(() => now);
    cache.set('hash', 'principal');
    now += KEY_CACHE_TTL_MS - 1;
    expect(cache.get('hash')).toBe('principal');
    now += 1;
    expect(cache.get('hash')).toBeUndefined();
  });

  it('forgets everything when cleared (a revocation in this process)', () => {
    const cache = new ApiKeyCache<string>();
    cache.set('a', 'x');
    cache.clear();
    expect(cache.get('a')).toBeUndefined();
  });
});
