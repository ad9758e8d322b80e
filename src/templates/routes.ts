import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { invalidCursor, pageResponse } from '../http/cursor.js';
import { Pagination, Uuid, responses } from '../http/schemas.js';
import type { TemplateEntry } from './catalogue-entry.js';
import type { TemplateService } from './service.js';

const IdParams = Type.Object({ id: Uuid });

const TemplateItem = Type.Object({
  name: Type.String(),
  language: Type.String(),
  status: Type.String({ description: '`APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`, … as WhatsApp says.' }),
  category: Type.Union([Type.String(), Type.Null()]),
  bodyParameters: Type.Integer({ description: 'The number of distinct `{{n}}` in the body.' }),
  header: Type.Union([Type.Object({ format: Type.String({ description: '`TEXT`, `IMAGE`, `VIDEO`, `DOCUMENT` or `LOCATION`.' }) }), Type.Null()]),
  buttons: Type.Array(Type.Object({ index: Type.Integer(), type: Type.String({ description: '`URL`, `QUICK_REPLY`, `COPY_CODE`, `PHONE_NUMBER`, …' }) })),
});

const toItem = (entry: TemplateEntry) => ({
  name: entry.name,
  language: entry.language,
  status: entry.status,
  category: entry.category,
  bodyParameters: entry.bodyParameters,
  header: entry.header ? { format: entry.header.format } : null,
  buttons: entry.buttons.map(({ index, type }) => ({ index, type })),
});

/** The opaque cursor of a position in the catalogue (name, language). */
const encodeCursor = (position: { name: string; language: string }) => Buffer.from(JSON.stringify([position.name, position.language])).toString('base64url');

function decodeCursor(value: string): { name: string; language: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((p) => typeof p === 'string' && p.length > 0 && p.length <= 512 && !p.includes('\u0000'))) {
      return { name: parsed[0] as string, language: parsed[1] as string };
    }
  } catch {
    // fall through to the refusal below
  }
  throw invalidCursor();
}

export const templateRoutes: FastifyPluginAsyncTypebox<{ templates: TemplateService }> = async (app, { templates }) => {
  app.post(
    '/live-chats/:id/templates/sync',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['templates'],
        operationId: 'syncTemplates',
        summary: 'Read the WhatsApp template catalogue again',
        description:
          'Reads every page of the business account’s `message_templates` (following `paging.next` only under ' +
          'WHATSAPP_API_BASE_URL) and replaces the live chat’s catalogue with it in one go. On failure the catalogue stays as it was.',
        params: IdParams,
        response: responses(
          { 200: Type.Object({ synced: Type.Integer({ description: 'Templates in the catalogue now.' }) }) },
          {
            404: 'No live chat with this id (`live_chat_not_found`).',
            422: 'Not a WhatsApp live chat (`template_not_supported`), or it has no businessAccountId (`business_account_required`).',
            502: 'WhatsApp refused or could not be reached, or paged elsewhere (`provider_error`); the catalogue is unchanged.',
          },
        ),
      },
    },
    async (request) => ({ synced: await templates.sync(request.params.id) }),
  );

  app.get(
    '/live-chats/:id/templates',
    {
      config: { access: 'sessions', liveChat: { params: 'id' } },
      schema: {
        tags: ['templates'],
        operationId: 'listTemplates',
        summary: 'List the live chat’s WhatsApp templates, by name and language',
        params: IdParams,
        querystring: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
            status: Type.Optional(Type.String({ pattern: '^[A-Z_]{1,40}$', description: 'E.g. `APPROVED`.' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
            cursor: Type.Optional(Pagination.cursor),
          },
          { additionalProperties: false },
        ),
        response: responses(
          { 200: Type.Object({ items: Type.Array(TemplateItem), nextCursor: Type.Union([Type.String(), Type.Null()]) }) },
          { 404: 'No live chat with this id (`live_chat_not_found`).' },
        ),
      },
    },
    async (request) => {
      const { name, status, limit = 100, cursor } = request.query;
      const page = await templates.list(request.params.id, { name, status, limit, after: cursor ? decodeCursor(cursor) : undefined });
      return pageResponse(page, toItem, encodeCursor);
    },
  );
};
