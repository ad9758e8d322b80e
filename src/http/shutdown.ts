import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { sendProblem } from './errors.js';
import { ProblemError } from './problem.js';

/**
 * Graceful shutdown at the HTTP edge. Once `app.close()` has begun (SIGTERM), the listener no
 * longer accepts connections, requests already running finish, and:
 * - a request that still arrives on a kept-alive connection is refused with 503 `shutting_down`
 *   (problem+json, `Retry-After`) before anything runs, so a client retries it elsewhere and
 *   knows it was not applied (Fastify's own 503 for this is not problem+json);
 * - every response closes its connection. Node's `server.close()` only closes the connections
 *   idle at that moment; one whose request was still running would otherwise stay open after
 *   its response until the keep-alive timeout, holding the shutdown past its deadline.
 * The app must be built with `return503OnClosing: false`, or Fastify answers first.
 */
export const shutdownPlugin = fp(
  async (app: FastifyInstance) => {
    let closing = false;
    app.addHook('preClose', async () => {
      closing = true;
    });
    app.addHook('onRequest', async (request, reply) => {
      if (!closing) return;
      return sendProblem(request, reply, new ProblemError(503, 'shutting_down', 'This instance is shutting down; retry the request.', {}, { 'Retry-After': '1' }));
    });
    app.addHook('onSend', async (_request, reply, payload) => {
      if (closing) reply.header('connection', 'close');
      return payload;
    });
  },
  { name: 'shutdown', dependencies: ['errors'] },
);
