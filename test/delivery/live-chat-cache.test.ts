import { describe, expect, it } from 'vitest';
import { cachedLiveChats } from '../../src/delivery/live-chat-cache.js';
import type { LiveChat } from '../../src/live-chats/model.js';

const chat = (name: string): LiveChat => ({
  id: 'lc-1',
  name,
  channel: { type: 'telegram', botToken: '1:token' },
  secretsReadable: true,
  createdAt: new Date(0),
  updatedAt: new Date(0),
});

describe('the dispatcher’s live chat cache', () => {
  it('loads a live chat once per TTL, so a changed setting reaches delivery within it', async () => {
    let now = 0;
    let loads = 0;
    let current = chat('before');
    const cache = cachedLiveChats({ get: async () => (loads++, current) }, 5_000, () => now);
    expect((await cache.get('lc-1')).name).toBe('before');
    current = chat('after');
    now = 4_999;
    expect((await cache.get('lc-1')).name).toBe('before');
    now = 5_000;
    expect((await cache.get('lc-1')).name).toBe('after');
    expect(loads).toBe(2);
  });

  it('does not keep a failed load: the next message tries again', async () => {
    let fail = true;
    const cache = cachedLiveChats({ get: async () => (fail ? Promise.reject(new Error('database down')) : chat('ok')) }, 5_000, () => 0);
    await expect(cache.get('lc-1')).rejects.toThrow('database down');
    fail = false;
    expect((await cache.get('lc-1')).name).toBe('ok');
  });
});
