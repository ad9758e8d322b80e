import { Type } from 'typebox';
import type { ErrorResponse } from '../http/schemas.js';

/** The Idempotency-Key header of a route with `config.idempotent`. */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ minLength: 1, maxLength: 255, description: 'Makes a retry safe: the first response to this key is replayed for 24 h.' }),
  ),
});

const IDEMPOTENCY_ERRORS: Record<number, string> = {
  409: 'A request with the same Idempotency-Key is still running (`idempotency_key_in_use`).',
  422: 'The Idempotency-Key was used with another body (`idempotency_key_reused`).',
};

/** A route's own error descriptions plus those of Idempotency-Key. */
export function withIdempotency(errors: Record<number, string | ErrorResponse>): Record<number, string | ErrorResponse> {
  const merged = { ...errors };
  for (const [status, text] of Object.entries(IDEMPOTENCY_ERRORS)) {
    const code = Number(status);
    const own = merged[code];
    merged[code] = own === undefined ? text : typeof own === 'string' ? `${own} ${text}` : { ...own, description: `${own.description} ${text}` };
  }
  return merged;
}
