import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * One log line per request — request id, API key id, route, status, duration, problem code —
 * and the request id echoed in X-Request-Id. Bodies are never logged.
 */
export const requestLogPlugin = fp(
  async (app: FastifyInstance) => {
    app.addHook('onRequest', async (request, reply) => {
      reply.header('x-request-id', request.id);
    });
    app.addHook('onResponse', async (request, reply) => {
      const fields = {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        apiKeyId: request.principal?.keyId,
        code: request.problemCode,
      };
      if (reply.statusCode >= 500) request.log.error(fields, 'request failed');
      else request.log.info(fields, 'request');
    });
  },
  { name: 'request-log' },
);
