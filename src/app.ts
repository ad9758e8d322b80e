import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/connection.js';
import { type AppServices, createServices } from './services.js';
import { errorsPlugin } from './http/errors.js';
import { authPlugin } from './http/auth.js';
import { openapiPlugin } from './http/openapi.js';
import { validatorCompiler } from './http/validation.js';
import { Problem } from './http/problem.js';
import { LiveChatSchema } from './live-chats/schemas.js';
import { ContactSchema } from './contacts/schemas.js';
import { MessageSchema, SessionSchema } from './sessions/schemas.js';
import { healthRoutes } from './health/routes.js';
import { apiKeyRoutes } from './api-keys/routes.js';
import { liveChatRoutes } from './live-chats/routes.js';
import { contactRoutes } from './contacts/routes.js';
import { sessionRoutes } from './sessions/routes.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';

export interface BuildAppOptions {
  config: Config;
  database: DatabaseHandle;
  /** Time source for the rules that depend on it (the WhatsApp 24-hour window). */
  clock?: Clock;
  /** A pino logger; none (silent) when omitted. */
  logger?: FastifyBaseLogger;
}

export type App = FastifyInstance & { services: AppServices };

/** Builds the application: plugins in a fixed order, then routes. Does not listen. */
export async function buildApp(options: BuildAppOptions): Promise<App> {
  const { config, database } = options;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: config.bodyLimitBytes,
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
    ajv: { customOptions: { allErrors: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);

  const services = createServices({ config, database, clock: options.clock ?? systemClock });
  app.decorate('services', services);
  for (const schema of [Problem, LiveChatSchema, ContactSchema, SessionSchema, MessageSchema]) app.addSchema(schema);

  // Cross-cutting plugins first, so every route below inherits them.
  await app.register(errorsPlugin);
  await app.register(openapiPlugin);
  await app.register(authPlugin, { db: database.db, adminApiKey: config.adminApiKey });

  await app.register(healthRoutes, { database });
  await app.register(apiKeyRoutes, { db: database.db });
  await app.register(liveChatRoutes, { liveChats: services.liveChats });
  await app.register(contactRoutes, { contacts: services.contacts });
  await app.register(sessionRoutes, { sessions: services.sessions, messages: services.messages });

  return app as unknown as App;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: AppServices;
  }
}
