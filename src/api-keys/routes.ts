import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { ApiKeyRow, Database } from '../db/types.js';
import { Refusal } from '../domain/refusal.js';
import { Timestamp, Uuid, responses } from '../http/schemas.js';
import * as repo from './repository.js';
import { createApiKey } from './service.js';

const ScopeSchema = Type.Union([Type.Literal('sessions'), Type.Literal('admin')]);
const LiveChatIds = Type.Union([Type.Array(Uuid), Type.Null()], {
  description: 'The live chats a restricted key acts in (it sees nothing of others); null: every live chat.',
});
const ApiKey = Type.Object({ id: Uuid, name: Type.String(), scopes: Type.Array(ScopeSchema), liveChatIds: LiveChatIds, createdAt: Timestamp });
const CreatedApiKey = Type.Object({
  ...ApiKey.properties,
  key: Type.String({ description: 'The secret. Shown in this response only; store it now.' }),
});

function toApiKey(row: ApiKeyRow) {
  return { id: row.id, name: row.name, scopes: row.scopes as ('sessions' | 'admin')[], liveChatIds: row.live_chat_ids, createdAt: row.created_at.toISOString() };
}

export const apiKeyRoutes: FastifyPluginAsyncTypebox<{ db: Kysely<Database> }> = async (app, { db }) => {
  app.post(
    '/api-keys',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['api-keys'],
        operationId: 'createApiKey',
        summary: 'Create an API key',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            scopes: Type.Array(ScopeSchema, { minItems: 1, maxItems: 2, uniqueItems: true }),
            liveChatIds: Type.Optional(
              Type.Union([Type.Array(Uuid, { minItems: 1, maxItems: 500, uniqueItems: true }), Type.Null()], {
                description: 'Restricts the key to these live chats (scope `sessions` only). Omitted or null: every live chat.',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: CreatedApiKey }),
      },
    },
    async (request, reply) => {
      const { row, key } = await createApiKey(db, request.body);
      return reply.code(201).send({ ...toApiKey(row), key });
    },
  );

  app.get(
    '/api-keys',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['api-keys'],
        operationId: 'listApiKeys',
        summary: 'List active API keys (without their secrets)',
        response: responses({ 200: Type.Object({ items: Type.Array(ApiKey) }) }),
      },
    },
    async () => ({ items: (await repo.listApiKeys(db)).map(toApiKey) }),
  );

  app.delete(
    '/api-keys/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['api-keys'],
        operationId: 'revokeApiKey',
        summary: 'Revoke an API key',
        params: Type.Object({ id: Uuid }),
        response: responses({ 204: Type.Null({ description: 'Revoked.' }) }, { 404: 'No active key with this id (`api_key_not_found`).' }),
      },
    },
    async (request, reply) => {
      const revoked = await repo.revokeApiKey(db, request.params.id);
      app.apiKeyCache.clear();
      if (!revoked) {
        throw new Refusal('api_key_not_found', `API key ${request.params.id} does not exist or is already revoked.`);
      }
      return reply.code(204).send();
    },
  );
};
