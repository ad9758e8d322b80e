import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ROTATION_OVERLAP_MS, sealSecrets, signingSecretsCache } from '../../src/events/subscription-secrets.js';
import { SecretBox } from '../../src/live-chats/secret-box.js';

describe('signing secrets of a subscription', () => {
  const now = new Date('2026-12-01T10:00:00Z');

  it('signs with the previous secret too until its overlap ends, opening each sealed value once', () => {
    const box = new SecretBox([randomBytes(32)]);
    let opened = 0;
    const counting = Object.assign(Object.create(box) as SecretBox, {
      open: (sealed: string) => {
        opened += 1;
        return box.open(sealed);
      },
    });
    const secretsOf = signingSecretsCache(counting);
    const sealed = sealSecrets(box, { current: 'whsec_new', previous: 'whsec_old' });
    const expiresAt = new Date(now.getTime() + ROTATION_OVERLAP_MS);

    expect(secretsOf(sealed, expiresAt, now)).toEqual(['whsec_new', 'whsec_old']);
    expect(secretsOf(sealed, expiresAt, new Date(expiresAt.getTime() + 1))).toEqual(['whsec_new']);
    expect(secretsOf(sealSecrets(box, { current: 'whsec_only' }), null, now)).toEqual(['whsec_only']);
    expect(opened).toBe(2);
  });

  it('throws, caching nothing, when the key cannot open the value', () => {
    const sealed = sealSecrets(new SecretBox([randomBytes(32)]), { current: 'whsec_a' });
    const secretsOf = signingSecretsCache(new SecretBox([randomBytes(32)]));
    expect(() => secretsOf(sealed, null, now)).toThrow();
    expect(() => secretsOf(sealed, null, now)).toThrow();
  });
});
