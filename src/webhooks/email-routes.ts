import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Uuid, responses } from '../http/schemas.js';
import type { EmailWebhookService } from './email-service.js';
import { rawBody } from './raw-body.js';
import { singleHeader } from './signature.js';

/** A mail with its attachments, as a mail server or an inbound-mail service delivers it. */
export const EMAIL_BODY_LIMIT_BYTES = 10 * 1024 * 1024;

const Params = Type.Object({ liveChatId: Uuid });
const EmailOutcome = Type.Object({
  outcome: Type.Union([Type.Literal('processed'), Type.Literal('duplicate')], {
    description: '`duplicate`: a message with this Message-ID was stored before and nothing changed now.',
  }),
  sessionId: Type.Union([Uuid, Type.Null()], { description: 'The session the email was stored on.' }),
});

export const emailWebhookRoutes: FastifyPluginAsyncTypebox<{ email: EmailWebhookService }> = async (app, { email }) => {
  app.post(
    '/webhooks/email/:liveChatId',
    {
      config: { access: 'webhook' },
      bodyLimit: EMAIL_BODY_LIMIT_BYTES,
      schema: {
        tags: ['webhooks'],
        operationId: 'receiveEmail',
        summary: 'Receive an email sent to the inbox (raw RFC 5322, as a mail server pipes it)',
        description:
          'The body is one raw email, `Content-Type: message/rfc822`, up to 10 MB. It is stored on the session whose ' +
          'sent message it answers (In-Reply-To, References) while that session is open, else on the sender’s open ' +
          'session, else on a new session in the queue. The plain-text body is its text (HTML-only mail converted), ' +
          'attachments are kept as media metadata. The same Message-ID twice is stored once.',
        security: [{ bearerAuth: [] }],
        consumes: ['message/rfc822'],
        params: Params,
        body: Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'The raw message (RFC 5322).' }),
        response: responses(
          { 200: EmailOutcome },
          {
            401: 'Authorization is not `Bearer <inboundSecret>` of this inbox, or the inbox has none (`invalid_inbound_secret`).',
            404: 'No email live chat with this id (`live_chat_not_found`).',
            413: 'The message is larger than 10 MB (`payload_too_large`).',
          },
          { authenticated: false },
        ),
      },
      // Before the body is read: an unauthenticated caller never makes the service take in 10 MB.
      onRequest: async (request) => {
        const { liveChatId } = request.params as { liveChatId: string };
        await email.authenticate(liveChatId, singleHeader(request.headers.authorization));
      },
    },
    async (request) => email.handleEmail(request.params.liveChatId, rawBody(request.body)),
  );
};
