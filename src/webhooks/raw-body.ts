import { validationFailed } from '../domain/refusal.js';

/** The request body as the exact bytes received (the webhook plugin parses JSON as a Buffer). */
export function rawBody(body: unknown): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
}

/**
 * Parses raw JSON bytes; throws 400 validation_failed (`invalid_json`) when they are not JSON.
 * A NUL (U+0000), which Postgres cannot store, becomes U+FFFD: a provider's event is kept, not
 * refused (a refusal would be retried and finally dropped).
 */
export function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'), (_key, value: unknown) => (typeof value === 'string' ? value.replaceAll('\u0000', '\uFFFD') : value));
  } catch {
    throw validationFailed([{ field: '', code: 'invalid_json', message: 'The body is not valid JSON.' }]);
  }
}
