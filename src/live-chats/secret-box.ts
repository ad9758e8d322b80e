import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** A sealed value that none of the configured keys opens (another SECRETS_KEY, or tampering). */
export class SecretsUnreadableError extends Error {
  override name = 'SecretsUnreadableError';
}

/** A key's public id: the start of its SHA-256. Names the key in sealed values, never reveals it. */
export function secretsKeyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/**
 * Encrypts channel secrets at rest with AES-256-GCM under a list of keys, newest first. The
 * first key seals, as `v2.<key id>.<iv>.<tag>.<ciphertext>` (base64url parts); any listed key
 * opens what it sealed, so a new key can be put in front of the old one and the secrets
 * re-sealed at leisure (`npm run secrets:rotate`). `v1.<iv>.<tag>.<ciphertext>`, written before
 * key ids existed, is tried with every key.
 */
export class SecretBox {
  readonly #keys: { id: string; key: Buffer }[];

  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new Error('SECRETS_KEY needs at least one key');
    if (keys.some((key) => key.length !== 32)) throw new Error('SECRETS_KEY keys must be 32 bytes');
    this.#keys = keys.map((key) => ({ id: secretsKeyId(key), key }));
  }

  /** The id of the key that seals. */
  get currentKeyId(): string {
    return this.#keys[0]!.id;
  }

  seal(plain: Record<string, string>): string {
    const { id, key } = this.#keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(plain), 'utf8'), cipher.final()]);
    return ['v2', id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  /** Opens a sealed value; throws SecretsUnreadableError when no listed key opens it. */
  open(sealed: string): Record<string, string> {
    const parts = sealed.split('.');
    const [version] = parts;
    const candidates = version === 'v2' ? this.#keys.filter((k) => k.id === parts[1]) : version === 'v1' ? this.#keys : [];
    const [iv, tag, body] = version === 'v2' ? parts.slice(2) : parts.slice(1);
    if (iv === undefined || tag === undefined || body === undefined) throw new SecretsUnreadableError('Unrecognised sealed secret');
    for (const { key } of candidates) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        const plain = Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
        return JSON.parse(plain.toString('utf8')) as Record<string, string>;
      } catch {
        // Not this key (a v1 value, or two keys with the same id): try the next.
      }
    }
    throw new SecretsUnreadableError(
      version === 'v2' ? `No key in SECRETS_KEY has id ${parts[1]}, or it does not open this value` : 'No key in SECRETS_KEY opens this value',
    );
  }

  /** True when the value is sealed with the current (first) key. */
  isCurrent(sealed: string): boolean {
    return sealed.startsWith(`v2.${this.currentKeyId}.`);
  }
}
