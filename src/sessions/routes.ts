import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { SESSION_ORIGINS, SESSION_STATUSES } from '../domain/session.js';
import { decodeCursor, pageResponse } from '../http/cursor.js';
import { liveChatScope } from '../http/live-chat-scope.js';
import { OneOf, OperatorId, Pagination, Uuid, ref, responses } from '../http/schemas.js';
import { IdempotencyHeaders, withIdempotency } from '../idempotency/schemas.js';
import { initiateSessionExamples, sessionAlreadyOpenExample } from './examples.js';
import type { SessionInitiation } from './initiation.js';
import { sessionResponse } from './responses.js';
import { InitiateSessionBody, MessageContentSchema, SessionSchema } from './schemas.js';
import type { SessionService } from './service.js';

const OF_SESSION = { params: 'id', owner: 'session' };
const SESSION_NOT_FOUND = { 404: 'No session with this id (`session_not_found`).' };
const IdParams = Type.Object({ id: Uuid });

export const sessionRoutes: FastifyPluginAsyncTypebox<{ sessions: SessionService; initiation: SessionInitiation }> = async (app, { sessions, initiation }) => {
  const SessionRef = ref(SessionSchema);

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
          '`account_channel_mismatch`, `account_required`, `template_not_supported`, `subject_not_supported`), the template fits the synced ' +
          'catalogue (422 `template_not_found`, `template_not_approved`, `template_parameters_mismatch`), the person has ' +
          'not opted out (422 `contact_opted_out`), Telegram prior contact (422 ' +
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
              'A channel rule refused: `account_channel_mismatch`, `account_required`, `template_not_supported`, `subject_not_supported`, ' +
              '`template_not_found`, `template_not_approved`, `template_parameters_mismatch`, `contact_opted_out`, ' +
              '`telegram_no_prior_contact`, `whatsapp_template_required`.',
          }),
        ),
      },
    },
    async (request, reply) => {
      const { session } = await initiation.initiate(request.body);
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
            unassigned: Type.Optional(Type.Boolean({ description: '`true`: sessions nobody has taken (the queue, with `status=open`); `false`: assigned ones.' })),
            origin: Type.Optional(OneOf(SESSION_ORIGINS)),
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
    '/sessions/:id/assign',
    {
      config: { access: 'sessions', liveChat: OF_SESSION },
      schema: {
        tags: ['sessions'],
        operationId: 'assignSession',
        summary: 'Assign an open session to an operator (take it from the queue, or hand it over)',
        params: IdParams,
        body: Type.Object({ operatorId: OperatorId }, { additionalProperties: false }),
        response: responses(
          { 200: SessionRef },
          {
            ...SESSION_NOT_FOUND,
            403: 'The operator is not assigned to the live chat (`operator_not_assigned`).',
            409: 'The session is closed (`session_not_open`).',
          },
        ),
      },
    },
    async (request) => sessionResponse(await sessions.assign(request.params.id, request.body.operatorId)),
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
            422: '`telegram_no_prior_contact`, `whatsapp_template_required`, `contact_opted_out`, `template_not_supported`, `subject_not_supported` or a template check (`template_not_found`, `template_not_approved`, `template_parameters_mismatch`).',
          }),
        ),
      },
    },
    async (request) => {
      const { session } = await initiation.reopen(request.params.id, request.body.operatorId, request.body.message);
      return sessionResponse(session);
    },
  );

};
