import type { AddressInfo } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { Type } from 'typebox';
import { type App, buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { connectDatabase } from '../src/db/connection.js';
import { migrate } from '../src/db/migrate.js';
import type { HttpStandIn, RecordedRequest } from '../test/support/http-stand-in.js';
import { SmtpStandIn } from '../test/support/smtp-stand-in.js';
import { startTelegramStandIn } from '../test/support/telegram-stand-in.js';
import { startWhatsAppStandIn } from '../test/support/whatsapp-stand-in.js';
import { hubSignature, whatsappChange, whatsappNotification, whatsappStatus } from '../test/webhooks/providers.js';
import { customerWrites } from './customer.js';

export const SANDBOX_ADMIN_KEY = 'dev-admin-key-change-me';

export interface SandboxOptions {
  env?: NodeJS.ProcessEnv;
  /** The service's port (PORT, else 3000); 0 for a free one. */
  port?: number;
  /** The SMTP stand-in's port (SANDBOX_SMTP_PORT, else 2525); 0 for a free one. */
  smtpPort?: number;
  /** How long after a WhatsApp send it is reported delivered; read follows after as long again. */
  statusDelayMs?: number;
  logger?: FastifyBaseLogger;
}

export interface Sandbox {
  app: App;
  url: string;
  adminApiKey: string;
  smtpPort: number;
  close(): Promise<void>;
}

/**
 * The service on an in-memory PGlite with local WhatsApp, Telegram and SMTP stand-ins: what is
 * sent is delivered to them, WhatsApp reports it delivered and read through signed status
 * webhooks, and `POST /sandbox/customer-messages` makes a customer write. Refuses production.
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const env = options.env ?? process.env;
  if (env.NODE_ENV === 'production') throw new Error('The sandbox fakes the providers and keeps nothing: it never runs with NODE_ENV=production.');
  const timers = new Set<NodeJS.Timeout>();
  // The app, once built: the WhatsApp stand-in reports statuses to it.
  const built: { app?: App } = {};
  const statusDelayMs = options.statusDelayMs ?? 1_000;
  const whatsapp = await startWhatsAppStandIn({
    onAccepted: (request, wamid) => {
      for (const [status, delay] of [['delivered', statusDelayMs], ['read', 2 * statusDelayMs]] as const) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (built.app) void reportStatus(built.app, request, wamid, status);
        }, delay);
        timers.add(timer);
      }
    },
  });
  const telegram = await startTelegramStandIn();
  const smtp = await SmtpStandIn.start({ port: options.smtpPort ?? Number(env.SANDBOX_SMTP_PORT ?? 2525) });

  const config = loadConfig({
    ...env,
    NODE_ENV: 'development',
    DATABASE_URL: '',
    ADMIN_API_KEY: env.ADMIN_API_KEY || SANDBOX_ADMIN_KEY,
    WHATSAPP_API_BASE_URL: whatsapp.url,
    TELEGRAM_API_BASE_URL: telegram.url,
  });
  const database = await connectDatabase({ dataDir: 'memory://' });
  await migrate(database);
  const running = await buildApp({ config, database, ...(options.logger ? { logger: options.logger } : {}) });
  await running.register(sandboxRoutes(whatsapp, telegram, smtp));
  await running.listen({ port: options.port ?? config.port, host: env.HOST || '127.0.0.1' });
  built.app = running;
  const { port } = running.server.address() as AddressInfo;
  return {
    app: running,
    url: `http://127.0.0.1:${port}`,
    adminApiKey: config.adminApiKey!,
    smtpPort: smtp.port,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      await running.close();
      await database.close();
      await Promise.all([whatsapp.close(), telegram.close(), smtp.close()]);
    },
  };
}

/** Posts a WhatsApp status for a message the stand-in accepted, to every live chat on that number with an app secret. */
async function reportStatus(app: App, request: RecordedRequest, wamid: string, status: 'delivered' | 'read'): Promise<void> {
  const phoneNumberId = request.path.split('/')[1];
  const recipient = String(request.body?.to ?? '').replace(/^\+/, '');
  for (const chat of await app.services.liveChats.list()) {
    if (chat.channel.type !== 'whatsapp' || chat.channel.phoneNumberId !== phoneNumberId || !chat.channel.appSecret) continue;
    const body = JSON.stringify(whatsappNotification([whatsappChange({ statuses: [whatsappStatus(wamid, status, { recipient })] }, phoneNumberId)]));
    await app.inject({
      method: 'POST',
      url: `/webhooks/whatsapp/${chat.id}`,
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': hubSignature(body, chat.channel.appSecret) },
      payload: body,
    });
  }
}

function sandboxRoutes(whatsapp: HttpStandIn, telegram: HttpStandIn, smtp: SmtpStandIn) {
  return async (app: App) => {
    app.post(
      '/sandbox/customer-messages',
      {
        config: { access: 'admin' },
        schema: {
          hide: true,
          body: Type.Object(
            {
              liveChatId: Type.String({ format: 'uuid' }),
              from: Type.String({ minLength: 1, maxLength: 64, description: 'A phone number, or a Telegram @username.' }),
              text: Type.String({ minLength: 1, maxLength: 4096 }),
              name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            },
            { additionalProperties: false },
          ),
        },
      },
      async (request) => {
        const answer = await customerWrites(app, request.body as Parameters<typeof customerWrites>[1]);
        return { webhookStatus: answer.status, webhookAnswer: answer.body };
      },
    );
    app.get('/sandbox/deliveries', { config: { access: 'admin' }, schema: { hide: true } }, async () => ({
      whatsapp: whatsapp.requests.map((r) => ({ path: r.path, body: r.body })),
      telegram: telegram.requests.map((r) => ({ path: r.path.replace(/\/bot[^/]+\//, '/bot<token>/'), body: r.body })),
      email: smtp.received.map(({ envelope, mail }) => ({ ...envelope, subject: mail.subject, text: mail.text })),
    }));
  };
}
