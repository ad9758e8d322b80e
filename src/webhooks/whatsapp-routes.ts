import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Uuid, responses } from '../http/schemas.js';
import type { WhatsAppChannel } from '../live-chats/model.js';
import { parseJson, rawBody } from './raw-body.js';
import { VerificationQuery, WhatsAppNotification, WhatsAppOutcome } from './schemas.js';
import { singleHeader } from './signature.js';
import type { WhatsAppWebhookService } from './whatsapp-service.js';

const Params = Type.Object({ liveChatId: Uuid });
const Headers = Type.Object({
  'x-hub-signature-256': Type.Optional(Type.String({ description: '`sha256=<hex HMAC-SHA256 of the raw body with the app secret>`.' })),
});

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated WhatsApp channel of a webhook delivery (webhook routes only). */
    whatsappChannel: WhatsAppChannel | null;
  }
}

export const whatsappWebhookRoutes: FastifyPluginAsyncTypebox<{ whatsapp: WhatsAppWebhookService }> = async (app, { whatsapp }) => {
  app.decorateRequest('whatsappChannel', null);

  app.get(
    '/webhooks/whatsapp/:liveChatId',
    {
      config: { access: 'webhook' },
      schema: {
        tags: ['webhooks'],
        operationId: 'verifyWhatsAppWebhook',
        summary: 'Answer the WhatsApp webhook verification handshake',
        description: 'Called by Meta when the callback URL is saved: echoes `hub.challenge` when `hub.verify_token` matches.',
        security: [],
        params: Params,
        querystring: VerificationQuery,
        response: {
          ...responses(
            {},
            {
              403: '`hub.mode` is not `subscribe` or `hub.verify_token` is wrong (`verification_failed`).',
              404: 'No WhatsApp live chat with this id (`live_chat_not_found`).',
            },
            { authenticated: false },
          ),
          200: { description: 'The challenge, as sent.', content: { 'text/plain': { schema: Type.String() } } },
        },
      },
    },
    async (request, reply) => {
      const query = request.query;
      const challenge = await whatsapp.verifySubscription(request.params.liveChatId, {
        mode: query['hub.mode'],
        verifyToken: query['hub.verify_token'],
        challenge: query['hub.challenge'],
      });
      return reply.type('text/plain; charset=utf-8').send(challenge);
    },
  );

  app.post(
    '/webhooks/whatsapp/:liveChatId',
    {
      config: { access: 'webhook' },
      schema: {
        tags: ['webhooks'],
        operationId: 'receiveWhatsAppNotification',
        summary: 'Receive WhatsApp messages and delivery statuses',
        description:
          'Called by Meta. The signature is checked over the exact raw body. `messages[]` of every type record the sender, ' +
          'opening their 24-hour window, and are stored on their open session, else on a new one in the queue ' +
          '(`origin: inbound`, no operator; a new contact is named from `contacts[].profile.name`); `statuses[]` move outbound messages by ' +
          'providerMessageId to sent, delivered, read or failed, never backwards. A replayed wamid changes nothing.',
        security: [],
        params: Params,
        headers: Headers,
        body: WhatsAppNotification,
        response: responses(
          { 200: WhatsAppOutcome },
          {
            401: 'X-Hub-Signature-256 is missing or does not match the body (`invalid_signature`).',
            404: 'No WhatsApp live chat with this id (`live_chat_not_found`).',
          },
          { authenticated: false },
        ),
      },
      // Runs before body validation: the signature covers the bytes as received, not a re-serialisation.
      preValidation: async (request) => {
        const raw = rawBody(request.body);
        request.whatsappChannel = await whatsapp.authenticate(request.params.liveChatId, raw, singleHeader(request.headers['x-hub-signature-256']));
        request.body = parseJson(raw) as WhatsAppNotification;
      },
    },
    async (request) => whatsapp.handleNotification(request.params.liveChatId, request.whatsappChannel!, request.body),
  );
};
