import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { OPT_OUT_SOURCES } from '../domain/consent.js';
import { decodeCursor, pageResponse } from '../http/cursor.js';
import { OneOf, Pagination, Timestamp, Uuid, responses } from '../http/schemas.js';
import type { ConsentService, OptOut } from './service.js';

const AccountParams = Type.Object({
  id: Uuid,
  account: Type.String({ minLength: 1, maxLength: 254, description: 'The normalised account, URL-encoded: `%2B4915123456789`, `%40ann_b`, `tg%3A123456789`.' }),
});
const ERRORS = {
  404: 'No live chat with this id (`live_chat_not_found`).',
  422: 'The account cannot reach anyone on this live chat’s channel (`account_channel_mismatch`).',
};

const OptOutSchema = Type.Object({
  account: Type.String(),
  source: OneOf(OPT_OUT_SOURCES, { description: '`api`: through this API; `keyword`: the person wrote STOP or the like; `provider`: they blocked the bot.' }),
  reason: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
});

const toItem = (o: OptOut) => ({ ...o, createdAt: o.createdAt.toISOString() });

export const consentRoutes: FastifyPluginAsyncTypebox<{ consent: ConsentService }> = async (app, { consent }) => {
  app.get(
    '/live-chats/:id/opt-outs',
    {
      config: { access: 'sessions', liveChat: { params: 'id' } },
      schema: {
        tags: ['consent'],
        operationId: 'listOptOuts',
        summary: 'List the people who opted out of the live chat, newest first',
        params: Type.Object({ id: Uuid }),
        querystring: Type.Object(
          {
            account: Type.Optional(Type.String({ minLength: 1, maxLength: 254, description: 'Only this account (any form of it).' })),
            limit: Type.Optional(Pagination.limit),
            cursor: Type.Optional(Pagination.cursor),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Object({ items: Type.Array(OptOutSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }) }, ERRORS),
      },
    },
    async (request) => {
      const { account, limit = 20, cursor } = request.query;
      return pageResponse(await consent.list(request.params.id, { account, limit, after: cursor ? decodeCursor(cursor) : undefined }), toItem);
    },
  );

  app.put(
    '/live-chats/:id/opt-outs/:account',
    {
      // Recording an opt-out only ever stops messages: any sessions key may do it.
      config: { access: 'sessions', liveChat: { params: 'id' } },
      schema: {
        tags: ['consent'],
        operationId: 'optOut',
        summary: 'Opt a person out of the live chat',
        description: 'Nothing is initiated or sent to them on this live chat any more; their queued messages fail with `contact_opted_out`. Idempotent.',
        params: AccountParams,
        body: Type.Optional(Type.Object({ reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })) }, { additionalProperties: false })),
        response: responses({ 204: Type.Null({ description: 'Opted out.' }) }, ERRORS),
      },
    },
    async (request, reply) => {
      await consent.optOut(request.params.id, request.params.account, request.body?.reason ?? null);
      return reply.code(204).send();
    },
  );

  app.delete(
    '/live-chats/:id/opt-outs/:account',
    {
      // Lifting an opt-out needs the person's consent on record: admin only.
      config: { access: 'admin' },
      schema: {
        tags: ['consent'],
        operationId: 'optIn',
        summary: 'Opt a person back in to the live chat',
        params: AccountParams,
        response: responses({ 204: Type.Null({ description: 'Opted in (or was not opted out).' }) }, ERRORS),
      },
    },
    async (request, reply) => {
      await consent.optIn(request.params.id, request.params.account);
      return reply.code(204).send();
    },
  );
};
