import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ProblemError } from './problem.js';

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
    await app.register(helmet, { global: true });
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
