import type { LiveChat } from '../live-chats/model.js';

/** How long the dispatcher keeps a live chat's settings: a PATCH takes effect within this. */
export const LIVE_CHAT_CACHE_TTL_MS = 5_000;

/**
 * The dispatcher needs a live chat's channel settings and secrets for every message; loading
 * and decrypting them each time cost a query per delivery. They are kept for a few seconds.
 */
export function cachedLiveChats(source: { get(id: string): Promise<LiveChat> }, ttlMs = LIVE_CHAT_CACHE_TTL_MS, now: () => number = Date.now) {
  const entries = new Map<string, { value: Promise<LiveChat>; expiresAt: number }>();
  return {
    get(id: string): Promise<LiveChat> {
      const entry = entries.get(id);
      if (entry && entry.expiresAt > now()) return entry.value;
      if (entries.size >= 10_000) entries.clear();
      const value = source.get(id);
      entries.set(id, { value, expiresAt: now() + ttlMs });
      // A failed load is not kept: the next message tries again.
      value.catch(() => entries.delete(id));
      return value;
    },
  };
}
