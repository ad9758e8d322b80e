import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { DatabaseHandle } from '../db/connection.js';

const Status = Type.Object({ status: Type.String() });

export const healthRoutes: FastifyPluginAsyncTypebox<{ database: DatabaseHandle; readinessTimeoutMs?: number }> = async (app, options) => {
  let shuttingDown = false;
  app.addHook('preClose', async () => {
    shuttingDown = true;
  });

  app.get(
    '/healthz',
    {
      config: { access: 'public' },
      schema: { tags: ['operations'], operationId: 'getHealth', summary: 'The process is running', security: [], response: { 200: Status } },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      config: { access: 'public' },
      schema: {
        tags: ['operations'],
        operationId: 'getReadiness',
        summary: 'The database answers and the process is not shutting down',
        security: [],
        response: { 200: Status, 503: Status },
      },
    },
    async (_request, reply) => {
      if (shuttingDown) return reply.code(503).send({ status: 'shutting_down' });
      const timeoutMs = options.readinessTimeoutMs ?? 2_000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      const ping = sql`SELECT 1`.execute(options.database.db).then(
        () => true,
        () => false,
      );
      const ok = await Promise.race([ping, timeout]);
      clearTimeout(timer);
      return ok ? { status: 'ok' } : reply.code(503).send({ status: 'database_unavailable' });
    },
  );
};
