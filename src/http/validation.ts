import { Ajv, type ErrorObject, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

function createAjv(options: Options): Ajv {
  const ajv = new Ajv({ allErrors: true, removeAdditional: false, useDefaults: true, discriminator: true, strict: false, ...options });
  addFormats.default(ajv);
  return ajv;
}

// Bodies are JSON and must arrive with the right types; the query string and path are text
// and get coerced ("?limit=5" becomes 5).
const bodyAjv = createAjv({ coerceTypes: false });
const textAjv = createAjv({ coerceTypes: 'array' });

type Validate = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  // A raw body (an email) arrives as the bytes a content-type parser kept; its route reads them.
  if (httpPart === 'body' && (schema as { format?: string }).format === 'binary') return (data: unknown) => Buffer.isBuffer(data);
  const validate = (httpPart === 'body' ? bodyAjv : textAjv).compile(schema as object);
  // A body declared `Type.Optional(...)` may be left out: Fastify then validates null.
  const optional = httpPart === 'body' && Boolean((schema as { '~optional'?: boolean })['~optional']);
  let errors: ErrorObject[] | null = null;
  const check: Validate = (data: unknown) => {
    if (optional && (data === null || data === undefined)) return true;
    const valid = validate(data);
    const unstorable = nulErrors(data);
    errors = unstorable.length > 0 ? [...(validate.errors ?? []), ...unstorable] : (validate.errors ?? null);
    return valid && unstorable.length === 0;
  };
  return Object.defineProperty(check, 'errors', { get: () => errors });
};

const MAX_NUL_ERRORS = 20;

/**
 * Postgres cannot store U+0000 in text or jsonb. Every string (and key) that holds one is an
 * error at its JSON Pointer, found here, before any database work, on every route. Walks
 * without recursion: a deeply nested body must not exhaust the stack.
 */
export function nulErrors(data: unknown): ErrorObject[] {
  const found: ErrorObject[] = [];
  const pending: [unknown, string][] = [[data, '']];
  while (pending.length > 0 && found.length < MAX_NUL_ERRORS) {
    const [value, pointer] = pending.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) found.push(nulError(pointer));
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => pending.push([item, `${pointer}/${i}`]));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        const at = `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
        if (key.includes('\u0000')) found.push(nulError(at));
        else pending.push([item, at]);
      }
    }
  }
  return found.reverse();
}

function nulError(instancePath: string): ErrorObject {
  return { keyword: 'nulCharacter', instancePath, schemaPath: '', params: {}, message: 'must not contain the NUL character (U+0000)' };
}
