import { Ajv, type Options } from 'ajv';
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

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  // A raw body (an email) arrives as the bytes a content-type parser kept; its route reads them.
  if (httpPart === 'body' && (schema as { format?: string }).format === 'binary') return (data: unknown) => Buffer.isBuffer(data);
  const validate = (httpPart === 'body' ? bodyAjv : textAjv).compile(schema as object);
  if (httpPart !== 'body' || !(schema as { '~optional'?: boolean })['~optional']) return validate;
  // A body declared `Type.Optional(...)` may be left out: Fastify then validates null.
  const validateOrNone = (data: unknown) => data === null || data === undefined || validate(data);
  return Object.defineProperty(validateOrNone, 'errors', { get: () => validate.errors });
};
