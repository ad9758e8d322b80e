import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { RECIPIENT_OUTCOMES } from '../domain/batch.js';
import { decodeSeqCursor, encodeSeqCursor, pageResponse } from '../http/cursor.js';
import { OneOf, Pagination, Uuid, ref, responses } from '../http/schemas.js';
import { IdempotencyHeaders, withIdempotency } from '../idempotency/schemas.js';
import { BATCH_BODY_LIMIT_BYTES, BatchSchema, CreateBatchBody, RecipientSchema } from './schemas.js';
import { type BatchService, type Recipient, batchResponse } from './service.js';

const IdParams = Type.Object({ id: Uuid });
const NOT_FOUND = { 404: 'No session batch with this id (`batch_not_found`).' };
/** The batch in the path names the live chat (see src/http/live-chat-scope.ts). */
const OF_BATCH = { params: 'id', owner: 'batch' };

export const batchRoutes: FastifyPluginAsyncTypebox<{ batches: BatchService }> = async (app, { batches }) => {
  const BatchRef = ref(BatchSchema);

  app.post(
    '/session-batches',
    {
      config: { access: 'sessions', idempotent: true, liveChat: { body: 'liveChatId' } },
      bodyLimit: BATCH_BODY_LIMIT_BYTES,
      schema: {
        tags: ['session-batches'],
        operationId: 'createSessionBatch',
        summary: 'Initiate sessions with up to 10,000 people in one request',
        description:
          'Answers 202 at once with the batch; its recipients are then initiated one by one, each by exactly the checks ' +
          'and codes of POST /sessions (2–10), their messages paced like any others. A recipient with a format error ' +
          'refuses the whole batch (400, field e.g. `/recipients/17/account`). A recipient’s `parameters` replace the ' +
          'template’s body parameters. Watch the counts on GET /session-batches/{id}; `batch.completed` is emitted once ' +
          'nothing is pending. A request body may be up to 5 MB.',
        headers: IdempotencyHeaders,
        body: CreateBatchBody,
        response: responses(
          { 202: BatchRef },
          withIdempotency({ 404: 'The live chat does not exist (`live_chat_not_found`).', 413: 'The body is larger than 5 MB (`payload_too_large`).' }),
        ),
      },
    },
    async (request, reply) => {
      const batch = await batches.create(request.body);
      return reply.code(202).header('location', `/session-batches/${batch.id}`).send(batchResponse(batch));
    },
  );

  app.get(
    '/session-batches/:id',
    {
      config: { access: 'sessions', liveChat: OF_BATCH },
      schema: { tags: ['session-batches'], operationId: 'getSessionBatch', summary: 'Get a session batch and its counts', params: IdParams, response: responses({ 200: BatchRef }, NOT_FOUND) },
    },
    async (request) => batchResponse(await batches.get(request.params.id)),
  );

  app.get(
    '/session-batches/:id/recipients',
    {
      config: { access: 'sessions', liveChat: OF_BATCH },
      schema: {
        tags: ['session-batches'],
        operationId: 'listSessionBatchRecipients',
        summary: 'List a batch’s recipients and what became of each, in request order',
        params: IdParams,
        querystring: Type.Object(
          {
            outcome: Type.Optional(OneOf(RECIPIENT_OUTCOMES)),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
            cursor: Type.Optional(Pagination.cursor),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Object({ items: Type.Array(RecipientSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }) }, NOT_FOUND),
      },
    },
    async (request) => {
      const { outcome, limit = 100, cursor } = request.query;
      const page = await batches.recipients(request.params.id, { outcome, limit, afterIndex: cursor ? decodeSeqCursor(cursor) : undefined });
      return pageResponse(page, recipientResponse, encodeSeqCursor);
    },
  );

  app.post(
    '/session-batches/:id/cancel',
    {
      config: { access: 'sessions', liveChat: OF_BATCH },
      schema: {
        tags: ['session-batches'],
        operationId: 'cancelSessionBatch',
        summary: 'Cancel a batch: its pending recipients are canceled (a finished batch stays as it is)',
        params: IdParams,
        response: responses({ 200: BatchRef }, NOT_FOUND),
      },
    },
    async (request) => batchResponse(await batches.cancel(request.params.id)),
  );
};

function recipientResponse(recipient: Recipient) {
  return recipient;
}
