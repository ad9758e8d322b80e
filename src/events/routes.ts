import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { liveChatScope } from '../http/live-chat-scope.js';
import { Type } from 'typebox';
import { EVENT_TYPES, type EventType, eventJson } from '../domain/event.js';
import { validationFailed } from '../domain/refusal.js';
import { Uuid, ref, responses } from '../http/schemas.js';
import type { EventLog } from './event-log.js';
import { decodeLogCursor, encodeLogCursor } from './log-cursor.js';
import { LOG_START } from './log-repository.js';
import { EventSchema } from './schemas.js';

/** `types=session.created,message.failed` as a list; an unknown name is a 400 on `/types`. */
function parseTypes(value: string | undefined): EventType[] | undefined {
  if (value === undefined) return undefined;
  const names = [...new Set(value.split(',').map((name) => name.trim()))];
  const unknown = names.filter((name) => !(EVENT_TYPES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw validationFailed([{ field: '/types', code: 'invalid_value', message: `Unknown event type ${unknown.map((u) => `"${u}"`).join(', ')}; known: ${EVENT_TYPES.join(', ')}.` }]);
  }
  return names as EventType[];
}

export const eventRoutes: FastifyPluginAsyncTypebox<{ events: EventLog }> = async (app, { events }) => {
  app.get(
    '/events',
    {
      config: { access: 'sessions', liveChat: 'listing' },
      schema: {
        tags: ['events'],
        operationId: 'listEvents',
        summary: 'Read the event log, oldest first',
        description:
          'Loop on `nextCursor` (always given) to see every event exactly once, also events of transactions that ' +
          'committed late. With `waitSeconds`, an empty answer is held open until an event arrives or the time is up.',
        querystring: Type.Object(
          {
            after: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'A `nextCursor`; omitted: from the oldest kept event.' })),
            types: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'Comma-separated event types, e.g. `session.created,message.failed`.' })),
            liveChatId: Type.Optional(Uuid),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
            waitSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 30, default: 0 })),
          },
          { additionalProperties: false },
        ),
        response: responses({
          200: Type.Object({
            items: Type.Array(ref(EventSchema)),
            nextCursor: Type.String({ description: 'Where to read on: after the last item, or the same place when there was none.' }),
          }),
        }),
      },
    },
    async (request, reply) => {
      const { after, limit, waitSeconds, liveChatId } = request.query;
      const position = after !== undefined ? decodeLogCursor(after) : LOG_START;
      const types = parseTypes(request.query.types);
      // The client going away ends the wait.
      const gone = new AbortController();
      const onClose = () => gone.abort();
      reply.raw.once('close', onClose);
      try {
        const page = await events.read(
          // A key restricted to some live chats reads only their events.
          { after: position, types, liveChatId, visibleLiveChatIds: liveChatScope(request), limit: limit ?? 100 },
          { waitMs: (waitSeconds ?? 0) * 1000, signal: gone.signal },
        );
        return { items: page.items.map(eventJson), nextCursor: encodeLogCursor(page.next) };
      } finally {
        reply.raw.off('close', onClose);
      }
    },
  );
};
