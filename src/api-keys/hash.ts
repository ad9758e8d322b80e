import { createHash, randomBytes } from 'node:crypto';

/** API keys are stored and compared as their SHA-256; the key itself is shown once. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function newApiKeySecret(): string {
  return `sk_${randomBytes(24).toString('base64url')}`;
}
