import { validationFailed } from '../domain/refusal.js';

/** The request body as the exact bytes received (the webhook plugin parses JSON as a Buffer). */
export function rawBody(body: unknown): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
}

/** Parses raw JSON bytes; throws 400 validation_failed (`invalid_json`) when they are not JSON. */
export function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw validationFailed([{ field: '', code: 'invalid_json', message: 'The body is not valid JSON.' }]);
  }
}
