import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Uuid, responses } from '../http/schemas.js';
import { parseJson, rawBody } from './raw-body.js';
import { TelegramOutcome, TelegramUpdate } from './schemas.js';
import { singleHeader } from './signature.js';
import type { TelegramWebhookService } from './telegram-service.js';

const Params = Type.Object({ liveChatId: Uuid });
const Headers = Type.Object({
  'x-telegram-bot-api-secret-token': Type.Optional(Type.String({ description: 'The `secret_token` given to setWebhook: the live chat’s webhookSecret.' })),
});

export const telegramWebhookRoutes: FastifyPluginAsyncTypebox<{ telegram: TelegramWebhookService }> = async (app, { telegram }) => {
  app.post(
    '/webhooks/telegram/:liveChatId',
    {
      config: { access: 'webhook' },
      schema: {
        tags: ['webhooks'],
        operationId: 'receiveTelegramUpdate',
        summary: 'Receive a Telegram Update',
        description:
          'Called by Telegram (setWebhook). Records the person as having written to the bot (user id, chat id, ' +
          'username, and their phone when they shared their own contact) and stores their message of any kind on their open ' +
          'session, else on a new one in the queue (`origin: inbound`, no operator). ' +
          'A replayed update_id changes nothing; update types not used are acknowledged and ignored.',
        security: [],
        params: Params,
        headers: Headers,
        body: TelegramUpdate,
        response: responses(
          { 200: TelegramOutcome },
          {
            401: 'X-Telegram-Bot-Api-Secret-Token is missing or wrong (`invalid_webhook_secret`).',
            404: 'No Telegram live chat with this id (`live_chat_not_found`).',
          },
          { authenticated: false },
        ),
      },
      // Runs before body validation: authenticate first, then turn the raw bytes into JSON.
      preValidation: async (request) => {
        await telegram.authenticate(request.params.liveChatId, singleHeader(request.headers['x-telegram-bot-api-secret-token']));
        request.body = parseJson(rawBody(request.body)) as TelegramUpdate;
      },
    },
    async (request) => ({ outcome: await telegram.handleUpdate(request.params.liveChatId, request.body) }),
  );
};
