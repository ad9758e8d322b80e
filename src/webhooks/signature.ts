import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const HUB_SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * Whether `X-Hub-Signature-256` is `sha256=<hex HMAC-SHA256(appSecret, raw body)>` for these exact
 * bytes. Compared in constant time; a missing or malformed header is simply false.
 */
export function isValidHubSignature(rawBody: Buffer, header: string | undefined, appSecret: string): boolean {
  const match = header === undefined ? null : HUB_SIGNATURE.exec(header.trim());
  if (!match) return false;
  const expected = createHmac('sha256', appSecret).update(rawBody).digest();
  return timingSafeEqual(expected, Buffer.from(match[1]!, 'hex'));
}

/**
 * Compares a presented shared secret with the expected one in constant time. Both are hashed
 * first so that neither the comparison nor an early length check reveals the secret's length.
 */
export function secretsMatch(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The single value of a header, or undefined when it is missing or repeated. */
export function singleHeader(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
