import type { IncomingMessage, ServerResponse } from 'node:http';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import helmet from 'helmet';
import { ProblemError } from './problem.js';

/**
 * The headers helmet's defaults set, worked out once: with no per-request options (no CSP
 * nonces) they are the same on every response, and building them again for each request was
 * a measurable share of a request's CPU.
 */
export function securityHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: unknown) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
    getHeader: (name: string) => headers[name.toLowerCase()],
  };
  let done = false;
  helmet()({} as IncomingMessage, response as unknown as ServerResponse, () => (done = true));
  if (!done) throw new Error('helmet did not finish synchronously');
  return headers;
}

export interface SecurityOptions {
  /** Requests per minute per API key; 0 turns the limit off. */
  rateLimitPerMinute: number;
}

/**
 * Security headers on every response, and a per-API-key rate limit (in memory, so per
 * replica) that answers 429 rate_limited with Retry-After. Unauthenticated routes (health,
 * metrics, webhooks) are not limited here: the providers retry, and a limit would drop events.
 */
export const securityPlugin = fp<SecurityOptions>(
  async (app: FastifyInstance, options) => {
    // At onSend, so that every answer has them — refusals by earlier hooks (401, 503) too —
    // without replacing a header a route set itself.
    const headers = Object.entries(securityHeaders());
    app.addHook('onSend', (_request, reply, payload, done) => {
      for (const [name, value] of headers) if (!reply.hasHeader(name)) reply.header(name, value);
      done(null, payload);
    });
    if (options.rateLimitPerMinute > 0) {
      await app.register(rateLimit, {
        global: true,
        max: options.rateLimitPerMinute,
        timeWindow: 60_000,
        // After authentication, so the key is known.
        hook: 'preParsing',
        keyGenerator: (request) => request.principal?.keyId ?? request.ip,
        allowList: (request) => request.principal === null,
        errorResponseBuilder: (_request, context) =>
          new ProblemError(429, 'rate_limited', `More than ${context.max} requests a minute with this API key; retry after ${context.after}.`, {}, {
            'Retry-After': String(Math.max(1, Math.ceil(context.ttl / 1000))),
          }),
      });
    }
  },
  { name: 'security', dependencies: ['auth'] },
);
