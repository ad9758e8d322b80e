import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { DatabaseHandle } from '../db/connection.js';
import { ProblemError } from '../http/problem.js';
import { responses } from '../http/schemas.js';

const Status = Type.Object({ status: Type.String() });

export const healthRoutes: FastifyPluginAsyncTypebox<{ database: DatabaseHandle; readinessTimeoutMs?: number }> = async (app, options) => {
  // While shutting down, the shutdown plugin answers 503 shutting_down before any route runs.
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
        response: responses({ 200: Status }, { 503: 'The database does not answer (`database_unavailable`) or the process is shutting down (`shutting_down`).' }, { authenticated: false }),
      },
    },
    async () => {
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
      if (!ok) throw new ProblemError(503, 'database_unavailable', 'The database does not answer.', {}, { 'Retry-After': '5' });
      return { status: 'ok' };
    },
  );
};
