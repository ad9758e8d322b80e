import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { SESSION_STATUSES } from '../domain/session.js';
import { decodeCursor, pageResponse } from '../http/cursor.js';
import { liveChatScope } from '../http/live-chat-scope.js';
import { type ErrorResponse, OneOf, OperatorId, Pagination, Uuid, ref, responses } from '../http/schemas.js';
import type { Message, Session } from './model.js';
import type { MessageService } from './message-service.js';
import { InitiateSessionBody, MessageContentSchema, MessageSchema, SessionSchema, TemplateSchema, MessageText } from './schemas.js';
import type { SessionService } from './service.js';
import { initiateSessionExamples, sessionAlreadyOpenExample } from './examples.js';

const OF_SESSION = { params: 'id', owner: 'session' };
const SESSION_NOT_FOUND = { 404: 'No session with this id (`session_not_found`).' };
const IdParams = Type.Object({ id: Uuid });
const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ minLength: 1, maxLength: 255, description: 'Makes a retry safe: the first response to this key is replayed for 24 h.' }),
  ),
});
const IDEMPOTENCY_ERRORS: Record<number, string> = {
  409: 'A request with the same Idempotency-Key is still running (`idempotency_key_in_use`).',
  422: 'The Idempotency-Key was used with another body (`idempotency_key_reused`).',
};

/** A route's own error descriptions plus those of Idempotency-Key. */
function withIdempotency(errors: Record<number, string | ErrorResponse>): Record<number, string | ErrorResponse> {
  const merged = { ...errors };
  for (const [status, text] of Object.entries(IDEMPOTENCY_ERRORS)) {
    const code = Number(status);
    const own = merged[code];
    merged[code] = own === undefined ? text : typeof own === 'string' ? `${own} ${text}` : { ...own, description: `${own.description} ${text}` };
  }
  return merged;
}

export function sessionResponse(s: Session) {
  return {
    ...s,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
    closedAt: s.closedAt ? s.closedAt.toISOString() : null,
  };
}

export function messageResponse(m: Message) {
  return { ...m, createdAt: m.createdAt.toISOString(), updatedAt: m.updatedAt.toISOString() };
}

export const sessionRoutes: FastifyPluginAsyncTypebox<{ sessions: SessionService; messages: MessageService }> = async (app, { sessions, messages }) => {
  const SessionRef = ref(SessionSchema);
  const MessageRef = ref(MessageSchema);

  app.post(
    '/sessions',
    {
      config: { access: 'sessions', idempotent: true, liveChat: { body: 'liveChatId' } },
      schema: {
        tags: ['sessions'],
        operationId: 'createSession',
        summary: 'Initiate a session with a customer',
        description:
          'Checks, in order: formats (400), live chat exists (404 `live_chat_not_found`), operator assigned (403 ' +
          '`operator_not_assigned`), contact exists (404 `contact_not_found`), account fits the channel (422 ' +
          '`account_channel_mismatch`, `account_required`, `template_not_supported`), Telegram prior contact (422 ' +
          '`telegram_no_prior_contact`), WhatsApp 24-hour window for free text (422 `whatsapp_template_required`), ' +
          'no open session with the same person (409 `session_already_open`). A refusal changes nothing.',
        headers: IdempotencyHeaders,
        body: { ...InitiateSessionBody, 'x-examples': initiateSessionExamples } as typeof InitiateSessionBody,
        response: responses(
          { 201: SessionRef },
          withIdempotency({
            403: 'The operator is not assigned to the live chat (`operator_not_assigned`), or the key lacks the scope (`forbidden`).',
            404: 'The live chat (`live_chat_not_found`) or contact (`contact_not_found`) does not exist.',
            409: {
              description: 'An open session with this person exists (`session_already_open`, with `existingSessionId`).',
              examples: sessionAlreadyOpenExample,
            },
            422:
              'A channel rule refused: `account_channel_mismatch`, `account_required`, `template_not_supported`, ' +
              '`telegram_no_prior_contact`, `whatsapp_template_required`.',
          }),
        ),
      },
    },
    async (request, reply) => {
      const { session } = await sessions.initiate(request.body);
      return reply.code(201).header('location', `/sessions/${session.id}`).send(sessionResponse(session));
    },
  );

  app.get(
    '/sessions',
    {
      config: { access: 'sessions', liveChat: 'listing' },
      schema: {
        tags: ['sessions'],
        operationId: 'listSessions',
        summary: 'List sessions, newest first',
        querystring: Type.Object(
          {
            liveChatId: Type.Optional(Uuid),
            status: Type.Optional(OneOf(SESSION_STATUSES)),
            operatorId: Type.Optional(OperatorId),
            contactId: Type.Optional(Uuid),
            account: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })),
            limit: Type.Optional(Pagination.limit),
            cursor: Type.Optional(Pagination.cursor),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Object({ items: Type.Array(SessionRef), nextCursor: Type.Union([Type.String(), Type.Null()]) }) }),
      },
    },
    async (request) => {
      const { cursor, ...query } = request.query;
      const page = await sessions.list({ ...query, limit: query.limit ?? 20, after: cursor ? decodeCursor(cursor) : undefined, within: liveChatScope(request) });
      return pageResponse(page, sessionResponse);
    },
  );

  app.get(
    '/sessions/:id',
    {
      config: { access: 'sessions', liveChat: OF_SESSION },
      schema: { tags: ['sessions'], operationId: 'getSession', summary: 'Get a session', params: IdParams, response: responses({ 200: SessionRef }, SESSION_NOT_FOUND) },
    },
    async (request) => sessionResponse(await sessions.get(request.params.id)),
  );

  app.post(
    '/sessions/:id/close',
    {
      config: { access: 'sessions', liveChat: OF_SESSION },
      schema: {
        tags: ['sessions'],
        operationId: 'closeSession',
        summary: 'Close a session (closing a closed one changes nothing)',
        params: IdParams,
        body: Type.Optional(Type.Object({ operatorId: Type.Optional(OperatorId) }, { additionalProperties: false })),
        response: responses({ 200: SessionRef }, { ...SESSION_NOT_FOUND, 403: 'The given operator is not assigned (`operator_not_assigned`).' }),
      },
    },
    async (request) => sessionResponse(await sessions.close(request.params.id, request.body?.operatorId)),
  );

  app.post(
    '/sessions/:id/reopen',
    {
      config: { access: 'sessions', idempotent: true, liveChat: OF_SESSION },
      schema: {
        tags: ['sessions'],
        operationId: 'reopenSession',
        summary: 'Reopen a closed session, assigned to an operator',
        params: IdParams,
        headers: IdempotencyHeaders,
        body: Type.Object({ operatorId: OperatorId, message: Type.Optional(MessageContentSchema) }, { additionalProperties: false }),
        response: responses(
          { 200: SessionRef },
          withIdempotency({
            ...SESSION_NOT_FOUND,
            403: 'The operator is not assigned to the live chat (`operator_not_assigned`).',
            409: 'This or another session with the person is open (`session_already_open`, with `existingSessionId`).',
            422: '`telegram_no_prior_contact`, `whatsapp_template_required` or `template_not_supported`.',
          }),
        ),
      },
    },
    async (request) => {
      const { session } = await sessions.reopen(request.params.id, request.body.operatorId, request.body.message);
      return sessionResponse(session);
    },
  );

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
          { operatorId: OperatorId, text: Type.Optional(MessageText), template: Type.Optional(TemplateSchema) },
          { additionalProperties: false, description: 'Exactly one of `text` and `template` (WhatsApp only).' },
        ),
        response: responses(
          { 202: MessageRef },
          withIdempotency({
            ...SESSION_NOT_FOUND,
            403: 'The operator is not assigned to the live chat (`operator_not_assigned`).',
            409: 'The session is closed (`session_not_open`).',
            422: '`whatsapp_template_required` or `template_not_supported`.',
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
        response: responses({ 200: Type.Object({ items: Type.Array(MessageRef) }) }, SESSION_NOT_FOUND),
      },
    },
    async (request) => ({ items: (await messages.list(request.params.id)).map(messageResponse) }),
  );
};
