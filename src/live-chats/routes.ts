import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { liveChatScope } from '../http/live-chat-scope.js';
import { OperatorId, Timestamp, Uuid, ref, responses } from '../http/schemas.js';
import { type LiveChat, publicChannel } from './model.js';
import { ChannelInput, ChannelPatchInput, LiveChatName, LiveChatSchema } from './schemas.js';
import type { LiveChatService } from './service.js';
import type { TelegramWebhookRegistration } from './telegram-webhook.js';

const NOT_FOUND = { 404: 'No live chat with this id (`live_chat_not_found`).' };
const IdParams = Type.Object({ id: Uuid });
const OperatorParams = Type.Object({ id: Uuid, operatorId: OperatorId });

function toResponse(chat: LiveChat) {
  return {
    id: chat.id,
    name: chat.name,
    channel: publicChannel(chat.channel) as never,
    secretsReadable: chat.secretsReadable,
    createdAt: chat.createdAt.toISOString(),
    updatedAt: chat.updatedAt.toISOString(),
  };
}

export const liveChatRoutes: FastifyPluginAsyncTypebox<{ liveChats: LiveChatService; telegramWebhooks: TelegramWebhookRegistration }> = async (
  app,
  { liveChats, telegramWebhooks },
) => {
  const LiveChatRef = ref(LiveChatSchema);

  app.post(
    '/live-chats',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['live-chats'],
        operationId: 'createLiveChat',
        summary: 'Connect a channel as a live chat',
        body: Type.Object({ name: LiveChatName, channel: ChannelInput }, { additionalProperties: false }),
        response: responses({ 201: LiveChatRef }),
      },
    },
    async (request, reply) => {
      const chat = await liveChats.create(request.body);
      return reply.code(201).header('location', `/live-chats/${chat.id}`).send(toResponse(chat));
    },
  );

  app.get(
    '/live-chats',
    {
      config: { access: 'sessions', liveChat: 'listing' },
      schema: {
        tags: ['live-chats'],
        operationId: 'listLiveChats',
        summary: 'List live chats',
        response: responses({ 200: Type.Object({ items: Type.Array(LiveChatRef) }) }),
      },
    },
    async (request) => ({ items: (await liveChats.list(liveChatScope(request))).map(toResponse) }),
  );

  app.get(
    '/live-chats/:id',
    {
      config: { access: 'sessions', liveChat: { params: 'id' } },
      schema: {
        tags: ['live-chats'],
        operationId: 'getLiveChat',
        summary: 'Get a live chat',
        params: IdParams,
        response: responses({ 200: LiveChatRef }, NOT_FOUND),
      },
    },
    async (request) => {
      const chat = await liveChats.get(request.params.id);
      return { ...toResponse(chat), queuedMessages: await liveChats.queuedMessages(chat.id) };
    },
  );

  app.patch(
    '/live-chats/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['live-chats'],
        operationId: 'updateLiveChat',
        summary: 'Rename a live chat or change its channel settings',
        params: IdParams,
        body: Type.Object(
          { name: Type.Optional(LiveChatName), channel: Type.Optional(ChannelPatchInput) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: responses({ 200: LiveChatRef }, { ...NOT_FOUND, 422: 'The channel type cannot change (`channel_type_immutable`).' }),
      },
    },
    async (request) => toResponse(await liveChats.update(request.params.id, request.body)),
  );

  app.put(
    '/live-chats/:id/operators/:operatorId',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['live-chats'],
        operationId: 'assignOperator',
        summary: 'Assign an operator to the live chat (idempotent)',
        params: OperatorParams,
        response: responses({ 204: Type.Null({ description: 'Assigned.' }) }, NOT_FOUND),
      },
    },
    async (request, reply) => {
      await liveChats.assignOperator(request.params.id, request.params.operatorId);
      return reply.code(204).send();
    },
  );

  app.delete(
    '/live-chats/:id/operators/:operatorId',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['live-chats'],
        operationId: 'unassignOperator',
        summary: 'Remove an operator from the live chat',
        params: OperatorParams,
        response: responses({ 204: Type.Null({ description: 'Unassigned (or was not assigned).' }) }, NOT_FOUND),
      },
    },
    async (request, reply) => {
      await liveChats.unassignOperator(request.params.id, request.params.operatorId);
      return reply.code(204).send();
    },
  );

  app.get(
    '/live-chats/:id/operators',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['live-chats'],
        operationId: 'listOperators',
        summary: 'List the operators assigned to the live chat',
        params: IdParams,
        response: responses({ 200: Type.Object({ items: Type.Array(Type.Object({ operatorId: Type.String(), assignedAt: Timestamp })) }) }, NOT_FOUND),
      },
    },
    async (request) => ({
      items: (await liveChats.listOperators(request.params.id)).map((o) => ({ operatorId: o.operatorId, assignedAt: o.assignedAt.toISOString() })),
    }),
  );

  app.post(
    '/live-chats/:id/telegram-webhook',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['live-chats'],
        operationId: 'registerTelegramWebhook',
        summary: 'Register the live chat’s webhook with Telegram',
        description:
          'Calls Telegram’s setWebhook with `PUBLIC_BASE_URL` + `/webhooks/telegram/{id}`, the live chat’s webhook secret as ' +
          '`secret_token` and the update kinds the service reads (`message`, `edited_message`, `my_chat_member`).',
        params: IdParams,
        response: responses(
          { 200: Type.Object({ url: Type.String({ description: 'The webhook URL Telegram now calls.' }) }) },
          {
            404: 'No Telegram live chat with this id (`live_chat_not_found`).',
            422: 'PUBLIC_BASE_URL is not set (`public_base_url_required`).',
            502: 'Telegram refused or did not answer (`provider_error`); the detail carries Telegram’s description.',
            503: 'The live chat’s secrets cannot be decrypted with SECRETS_KEY (`secrets_unreadable`).',
          },
        ),
      },
    },
    async (request) => telegramWebhooks.register(request.params.id),
  );
};
