import { Type, type Static } from 'typebox';

/** One field-level validation failure; `field` is a JSON Pointer into the body or query. */
export const FieldError = Type.Object({
  field: Type.String({ description: 'JSON Pointer into the request body or query, e.g. `/account`.' }),
  code: Type.String({ description: 'Stable machine-readable reason, e.g. `invalid_phone_number`.' }),
  message: Type.String(),
});

/** RFC 9457 problem details, shared by every error response. */
export const Problem = Type.Object(
  {
    type: Type.String({ description: 'A URI reference identifying the problem type.' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable snake_case code that clients branch on.' }),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(FieldError)),
    existingSessionId: Type.Optional(Type.String({ format: 'uuid' })),
  },
  { $id: 'Problem', additionalProperties: true, description: 'RFC 9457 problem details.' },
);
export type ProblemBody = Static<typeof Problem>;

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export function titleFor(status: number): string {
  return TITLES[status] ?? 'Error';
}

/**
 * An answer of the HTTP layer as problem+json (authentication, rate limits, idempotency,
 * framework errors). Services throw a domain Refusal instead, mapped in refusal-status.ts.
 * `extensions` are merged into the body.
 */
export class ProblemError extends Error {
  readonly status: number;
  readonly code: string;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    detail: string,
    extensions: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
    this.status = status;
    this.code = code;
    this.extensions = extensions;
    this.headers = headers;
  }

  toBody(instance?: string): ProblemBody {
    return {
      type: `/problems/${this.code}`,
      title: titleFor(this.status),
      status: this.status,
      detail: this.message,
      code: this.code,
      ...(instance ? { instance } : {}),
      ...this.extensions,
    };
  }
}

