import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isDatabaseUnavailable, isUnstorableText } from '../db/errors.js';
import { type FieldError, Refusal, validationFailed } from '../domain/refusal.js';
import { ProblemError } from './problem.js';
import { problemOfRefusal } from './refusal-status.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

const KEYWORD_CODES: Record<string, string> = {
  required: 'required',
  additionalProperties: 'unknown_field',
  type: 'invalid_type',
  minLength: 'too_short',
  maxLength: 'too_long',
  minItems: 'too_few_items',
  maxItems: 'too_many_items',
  minimum: 'out_of_range',
  maximum: 'out_of_range',
  pattern: 'invalid_format',
  enum: 'invalid_value',
  const: 'invalid_value',
  anyOf: 'invalid_value',
  oneOf: 'invalid_value',
  minProperties: 'too_few_fields',
  maxProperties: 'too_many_fields',
  uniqueItems: 'duplicate_items',
  nulCharacter: 'invalid_character',
};

/** Turns one Ajv error into the contract's `{ field, code, message }`. */
export function toFieldError(error: AjvError): FieldError {
  const base = error.instancePath;
  if (error.keyword === 'required') {
    const name = String(error.params.missingProperty);
    return { field: `${base}/${name}`, code: 'required', message: `${name} is required.` };
  }
  if (error.keyword === 'additionalProperties') {
    const name = String(error.params.additionalProperty);
    return { field: `${base}/${name}`, code: 'unknown_field', message: `${name} is not a known field.` };
  }
  if (error.keyword === 'format') {
    const format = String(error.params.format);
    return { field: base, code: `invalid_${format.replace(/-/g, '_')}`, message: `Must be a valid ${format}.` };
  }
  const code = KEYWORD_CODES[error.keyword] ?? 'invalid_value';
  return { field: base, code, message: capitalise(error.message ?? 'is invalid') + '.' };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Ajv reports every branch of a failed anyOf/oneOf; keep the most useful errors only. */
function collapse(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  const result: FieldError[] = [];
  for (const e of errors) {
    const key = `${e.field}|${e.code}`;
    if (seen.has(key)) continue;
    seen.add(key);
    result.push(e);
  }
  return result.slice(0, 50);
}

const invalidJson = () => validationFailed([{ field: '', code: 'invalid_json', message: 'The body is not valid JSON.' }]);

export function sendProblem(request: FastifyRequest, reply: FastifyReply, problem: ProblemError): FastifyReply {
  for (const [name, value] of Object.entries(problem.headers)) reply.header(name, value);
  request.problemCode = problem.code;
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem.toBody(request.url.split('?')[0]));
}

export function translate(error: FastifyError & { validation?: AjvError[]; validationContext?: string }): ProblemError {
  if (error instanceof ProblemError) return error;
  if (error instanceof Refusal) return problemOfRefusal(error);
  if (error.validation) {
    const errors = collapse(error.validation.map(toFieldError));
    return problemOfRefusal(validationFailed(errors.length > 0 ? errors : [{ field: '', code: 'invalid_value', message: error.message }]));
  }
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return new ProblemError(400, 'bad_url', 'The request URL is malformed.');
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return new ProblemError(500, 'internal_error', 'An unexpected error occurred.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problemOfRefusal(invalidJson());
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ProblemError(413, 'payload_too_large', 'The request body is larger than allowed.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ProblemError(415, 'unsupported_media_type', 'Send the body as application/json.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ProblemError(400, 'invalid_content_length', 'Content-Length does not match the body.');
  }
  if (error instanceof SyntaxError || (error.statusCode === 400 && /JSON/i.test(error.message))) {
    return problemOfRefusal(invalidJson());
  }
  if (isUnstorableText(error)) {
    return problemOfRefusal(validationFailed([{ field: '', code: 'invalid_character', message: 'Text must not contain the NUL character (U+0000).' }]));
  }
  if (isDatabaseUnavailable(error)) {
    return new ProblemError(503, 'database_unavailable', 'The database is out of reach; try again shortly.', {}, { 'Retry-After': '5' });
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return new ProblemError(status, status === 429 ? 'rate_limited' : 'bad_request', error.message);
  }
  return new ProblemError(500, 'internal_error', 'An unexpected error occurred.');
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The problem `code` answered, for logs and metrics. */
    problemCode?: string;
  }
}

/** Renders every error, including Fastify's own, as RFC 9457 problem+json. */
export const errorsPlugin = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      const problem = translate(error);
      if (problem.status >= 500) {
        request.log.error({ err: error }, 'request failed');
      }
      return sendProblem(request, reply, problem);
    });
    app.setNotFoundHandler((request, reply) =>
      sendProblem(request, reply, new ProblemError(404, 'not_found', `No route for ${request.method} ${request.url.split('?')[0]}.`)),
    );
  },
  { name: 'errors' },
);


/**
 * Errors the router raises before any route runs (a malformed URL, a path part that is too
 * long) go through the same renderer, so they are problem+json too.
 */
export function renderFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  sendProblem(request, reply, translate(error));
}
