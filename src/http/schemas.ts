import { type Static, type TSchema, Type } from 'typebox';
import { Problem } from './problem.js';

export const Uuid = Type.String({ format: 'uuid' });

/** A union of string literals from a list declared once in the domain (channel types, statuses). */
export function OneOf<const T extends readonly string[]>(values: T, options: { description?: string } = {}) {
  return Type.Union(
    values.map((value) => Type.Literal(value)),
    options,
  ) as unknown as ReturnType<typeof Type.Unsafe<T[number]>>;
}
export const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339, UTC.' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
export const OperatorId = Type.String({ minLength: 1, maxLength: 128, description: 'Opaque id from the company user directory.' });

export const ProblemRef = Type.Unsafe({ $ref: 'Problem#' });

/** Every route answers these when things go wrong before its own rules run. */
const COMMON_ERRORS = {
  400: 'The request is malformed (`validation_failed`).',
  401: 'No API key, or an unknown or revoked one (`unauthorized`).',
  403: 'The key lacks the scope (`forbidden`), or a business rule refused.',
  429: 'Over the per-key rate limit (`rate_limited`).',
  500: 'Unexpected failure (`internal_error`); no internals are shown.',
  503: 'The database is out of reach (`database_unavailable`); see Retry-After.',
} as const;

/** An error response with named examples for the OpenAPI document. */
export interface ErrorResponse {
  description: string;
  examples: Record<string, { summary: string; value: unknown }>;
}

/**
 * Response schemas for a route: the success responses given, plus problem responses for the
 * common failures and the extra statuses this route can answer (with what they mean).
 */
export function responses(
  success: Record<number, TSchema>,
  errors: Record<number, string | ErrorResponse> = {},
  options: { authenticated?: boolean } = {},
): Record<number, TSchema> {
  const all: Record<number, string | ErrorResponse> = { ...COMMON_ERRORS, ...errors };
  if (options.authenticated === false) {
    // A route with its own credentials (a webhook's secret) still lists its own 401 and 403.
    if (!(401 in errors)) delete all[401];
    if (!(403 in errors)) delete all[403];
    delete all[429];
  }
  const result: Record<number, TSchema> = { ...success };
  for (const [status, entry] of Object.entries(all)) {
    const { description, examples } = typeof entry === 'string' ? { description: entry, examples: undefined } : entry;
    result[Number(status)] = Type.Unsafe({
      description,
      content: { 'application/problem+json': { schema: { $ref: 'Problem#' }, ...(examples ? { examples } : {}) } },
    });
  }
  return result;
}

export const Pagination = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  cursor: Type.String({ minLength: 1, maxLength: 512, description: 'Opaque; `nextCursor` of the previous page.' }),
};

export { Problem };

/**
 * A typed `$ref` to a shared schema (registered with `app.addSchema`), so that OpenAPI shows
 * it once under components and generated clients get one named type.
 */
export function ref<T extends TSchema & { $id?: string }>(schema: T): ReturnType<typeof Type.Unsafe<Static<T>>> {
  if (!schema.$id) throw new Error('ref() needs a schema with $id');
  return Type.Unsafe<Static<T>>({ $ref: `${schema.$id}#` });
}
