import { type KeyObject, createHmac, createSecretKey, randomBytes } from 'node:crypto';

const PREFIX = 'whsec_';

/** A new subscription secret: `whsec_` and the base64 of 32 random bytes (Standard Webhooks). */
export function newWebhookSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

/**
 * The `webhook-signature` header of Standard Webhooks: `v1,<base64 HMAC-SHA256 of
 * "<id>.<timestamp>.<body>">` keyed with the secret's bytes (base64 after `whsec_`), one entry per
 * secret, space-separated, so that a receiver holding either secret of a rotation verifies it.
 */
export function signWebhook(secrets: readonly string[], id: string, timestamp: number, body: string): string {
  return secrets.map((secret) => `v1,${createHmac('sha256', signingKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`).join(' ');
}

const CACHED_KEYS = 1_000;
const keys = new Map<string, KeyObject>();

/**
 * The secret's bytes as a key object, made once per secret: an HMAC keyed with a Buffer imports
 * the key anew each time, five times the cost of the HMAC of a webhook itself.
 */
function signingKey(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    key = createSecretKey(Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64'));
    if (keys.size >= CACHED_KEYS) keys.clear();
    keys.set(secret, key);
  }
  return key;
}
