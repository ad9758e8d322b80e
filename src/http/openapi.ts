import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';

export const API_TITLE = 'Session initiation API';
export const API_VERSION = '1.0.0';

/** OpenAPI 3.1 generated from the route schemas, at /openapi.json, browsable at /docs. */
export const openapiPlugin = fp(
  async (app: FastifyInstance) => {
    // Fastify validates a missing body against a `Type.Optional` body schema (see validation.ts);
    // the swagger plugin marks every request body required, so correct those operations.
    const optionalBodies = new Set<string>();
    app.addHook('onRoute', (route) => {
      const schema = route.schema as { operationId?: string; body?: { '~optional'?: boolean } } | undefined;
      if (schema?.operationId && schema.body?.['~optional']) optionalBodies.add(schema.operationId);
    });
    await app.register(swagger, {
      transformObject: (documentObject) => {
        if (!('openapiObject' in documentObject)) return documentObject.swaggerObject;
        const { openapiObject } = documentObject;
        for (const item of Object.values(openapiObject.paths ?? {})) {
          for (const operation of Object.values(item as Record<string, { operationId?: string; requestBody?: { required?: boolean } }>)) {
            if (operation?.operationId && optionalBodies.has(operation.operationId) && operation.requestBody) operation.requestBody.required = false;
          }
        }
        return openapiObject;
      },
      openapi: {
        openapi: '3.1.0',
        info: {
          title: API_TITLE,
          version: API_VERSION,
          description:
            'Lets live-chat operators initiate a chat session with an external customer over a connected channel: ' +
            'a WhatsApp Business number, a Telegram bot or an email inbox. Errors are RFC 9457 problem details ' +
            'with a stable `code`.',
        },
        components: {
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key created with POST /api-keys, or ADMIN_API_KEY.' },
          },
        },
        security: [{ bearerAuth: [] }],
        tags: [
          { name: 'sessions', description: 'Initiate, list, close and reopen sessions; send and list messages.' },
          { name: 'contacts', description: 'The customer directory.' },
          { name: 'live-chats', description: 'Connected channels and their operators (admin).' },
          { name: 'templates', description: 'A WhatsApp live chat’s template catalogue, synced from Meta.' },
          { name: 'consent', description: 'People who opted out of a live chat.' },
          { name: 'api-keys', description: 'API keys and their scopes (admin).' },
          { name: 'webhooks', description: 'Inbound provider events, authenticated by the channel’s own secret.' },
          { name: 'session-batches', description: 'Initiate sessions with many people at once, resumable and paced.' },
          { name: 'events', description: 'The event log: what happened, read with a cursor.' },
          { name: 'event-subscriptions', description: 'Webhooks that deliver events, signed the Standard Webhooks way (admin).' },
          { name: 'operations', description: 'Health, readiness and metrics.' },
        ],
      },
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
      },
      hideUntagged: true,
    });
    // The documentation is public; every other route needs an API key unless it says otherwise.
    app.addHook('onRoute', (route) => {
      if (route.url.startsWith('/docs')) route.config = { ...route.config, access: 'public' };
    });
    await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
    app.get('/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () => app.swagger());
  },
  { name: 'openapi' },
);
