import type { FastifyPluginAsync } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { EventsAppended } from '../events/snapshots.js';
import type { Database } from '../db/types.js';
import type { LiveChatService } from '../live-chats/service.js';
import { WebhookHousekeeping } from './housekeeping.js';
import { EMAIL_BODY_LIMIT_BYTES, emailWebhookRoutes } from './email-routes.js';
import { EmailWebhookService } from './email-service.js';
import { telegramWebhookRoutes } from './telegram-routes.js';
import { TelegramWebhookService } from './telegram-service.js';
import { whatsappWebhookRoutes } from './whatsapp-routes.js';
import { WhatsAppWebhookService } from './whatsapp-service.js';
import type { InboundHooks } from './inbound-hooks.js';

export interface WebhookRoutesOptions {
  db: Kysely<Database>;
  liveChats: LiveChatService;
  clock: Clock;
  /** Told when delivery reports kept for later moved their messages (and appended events). */
  events: EventsAppended;
  hooks: InboundHooks;
}

/**
 * The providers' webhooks, in their own encapsulated context: here a JSON body arrives as the
 * raw bytes (signatures cover those exact bytes), and each route parses it after checking the
 * channel's secret; an email arrives raw (`message/rfc822`). Other content types are refused (415). The rest of the app keeps Fastify's
 * JSON parser.
 */
export const webhookRoutes: FastifyPluginAsync<WebhookRoutesOptions> = async (app, { db, liveChats, clock, events, hooks }) => {
  // Early delivery reports and replay protection need looking after in the background.
  const housekeeping = new WebhookHousekeeping(db, clock, app.log, events);
  app.addHook('onReady', async () => housekeeping.start());
  app.addHook('onClose', async () => housekeeping.stop());

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  // Inbound email: the raw message, parsed by the route after the inbox's secret is checked.
  app.addContentTypeParser('message/rfc822', { parseAs: 'buffer', bodyLimit: EMAIL_BODY_LIMIT_BYTES }, (_request, body, done) => done(null, body));

  await app.register(telegramWebhookRoutes, { telegram: new TelegramWebhookService(db, liveChats, clock, hooks) });
  await app.register(whatsappWebhookRoutes, { whatsapp: new WhatsAppWebhookService(db, liveChats, clock, hooks) });
  await app.register(emailWebhookRoutes, { email: new EmailWebhookService(db, liveChats, clock) });
};
