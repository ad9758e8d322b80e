import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { decodeSeqCursor, encodeSeqCursor, pageResponse } from '../http/cursor.js';
import { OperatorId, Pagination, Uuid, ref, responses } from '../http/schemas.js';
import { IdempotencyHeaders, withIdempotency } from '../idempotency/schemas.js';
import type { MessageService } from './message-service.js';
import { messageResponse } from './responses.js';
import { MessageSchema, MessageSubject, MessageText, TemplateSchema } from './schemas.js';

/** The session in the path names the live chat (see src/http/live-chat-scope.ts). */
const OF_SESSION = { params: 'id', owner: 'session' };
const SESSION_NOT_FOUND = { 404: 'No session with this id (`session_not_found`).' };
const IdParams = Type.Object({ id: Uuid });

export const messageRoutes: FastifyPluginAsyncTypebox<{ messages: MessageService }> = async (app, { messages }) => {
  const MessageRef = ref(MessageSchema);

  app.post(
    '/sessions/:id/messages',
    {
      config: { access: 'sessions', idempotent: true, liveChat: OF_SESSION },
      schema: {
        tags: ['sessions'],
        operationId: 'sendMessage',
        summary: 'Queue a message on an open session',
        params: IdParams,
        headers: IdempotencyHeaders,
        body: Type.Object(
          { operatorId: OperatorId, text: Type.Optional(MessageText), subject: Type.Optional(MessageSubject), template: Type.Optional(TemplateSchema) },
          { additionalProperties: false, description: 'Exactly one of `text` and `template` (WhatsApp only).' },
        ),
        response: responses(
          { 202: MessageRef },
          withIdempotency({
            ...SESSION_NOT_FOUND,
            403: 'The operator is not assigned to the live chat (`operator_not_assigned`).',
            409: 'The session is closed (`session_not_open`).',
            422: '`whatsapp_template_required`, `contact_opted_out`, `template_not_supported`, `subject_not_supported` or a template check (`template_not_found`, `template_not_approved`, `template_parameters_mismatch`).',
          }),
        ),
      },
    },
    async (request, reply) => {
      const { operatorId, ...content } = request.body;
      const message = await messages.send(request.params.id, operatorId, content);
      return reply.code(202).send(messageResponse(message));
    },
  );

  app.get(
    '/sessions/:id/messages',
    {
      config: { access: 'sessions', liveChat: OF_SESSION },
      schema: {
        tags: ['sessions'],
        operationId: 'listMessages',
        summary: 'List a session’s messages, oldest first',
        params: IdParams,
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
            cursor: Type.Optional(Pagination.cursor),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Object({ items: Type.Array(MessageRef), nextCursor: Type.Union([Type.String(), Type.Null()]) }) }, SESSION_NOT_FOUND),
      },
    },
    async (request) => {
      const { limit = 50, cursor } = request.query;
      const page = await messages.list(request.params.id, { limit, afterSeq: cursor ? decodeSeqCursor(cursor) : undefined });
      return pageResponse(page, messageResponse, encodeSeqCursor);
    },
  );
};
