import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Refusal } from '../domain/refusal.js';
import { liveChatNotFound } from '../live-chats/service.js';

/**
 * How a route finds the live chat a request acts in, so that a key restricted to some live
 * chats (`liveChatIds`) sees nothing of the others. Every route with access `sessions` declares
 * one (start-up stops otherwise):
 * - `{ params: 'id' }` or `{ body: 'liveChatId' }`: that field is the live chat's id;
 * - `{ params: 'id', owner: 'session' }`: that field is the id of a resource of a live chat,
 *   looked up through the owner registered under that name (see LiveChatOwner);
 * - `'listing'`: the route lists across live chats and filters by `liveChatScope(request)`;
 * - `'none'`: the route's data belongs to no live chat (contacts).
 * Another live chat's things answer 404 with the usual code, exactly as if they did not exist.
 */
export type LiveChatLocator = 'none' | 'listing' | { params: string; owner?: string } | { body: string };

/** Finds the live chat of a resource (a session, a batch) by the resource's id. */
export interface LiveChatOwner {
  /** The resource's live chat id, or undefined when there is no such resource. */
  liveChatOf(id: string): Promise<string | undefined>;
  /** The refusal for a resource that does not exist (or belongs to a live chat out of reach). */
  notFound(id: string): Refusal;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    liveChat?: LiveChatLocator;
  }
}

/** The live chats the request's key may see, for listings: null when it may see every one. */
export function liveChatScope(request: FastifyRequest): readonly string[] | null {
  return request.principal?.liveChatIds ?? null;
}

/**
 * Enforces restricted keys in one place: after validation and before the handler (and before
 * an Idempotency-Key is claimed), a request of a restricted key that names another live chat,
 * or a resource of one, is refused as not found. Unrestricted keys cost nothing here.
 */
export const liveChatScopePlugin = fp<{ owners: Record<string, LiveChatOwner> }>(
  async (app: FastifyInstance, { owners }) => {
    app.addHook('onRoute', (route) => {
      const locator = route.config?.liveChat;
      const where = `${String(route.method)} ${route.url}`;
      if (route.config?.access === 'sessions' && locator === undefined) {
        throw new Error(
          `${where} has access 'sessions' but no config.liveChat: declare how it finds its live chat ` +
            `({ params }, { body }, { params, owner }, 'listing', or 'none'), so that restricted API keys stay inside theirs.`,
        );
      }
      if (typeof locator === 'object' && 'owner' in locator && locator.owner !== undefined && !owners[locator.owner]) {
        throw new Error(`${where} names the live chat owner '${locator.owner}', which is not registered.`);
      }
    });

    app.addHook('preHandler', async (request) => {
      const within = request.principal?.liveChatIds;
      const locator = request.routeOptions.config.liveChat;
      if (!within || typeof locator !== 'object') return;
      if ('body' in locator) {
        const id = (request.body as Record<string, unknown> | null | undefined)?.[locator.body];
        if (typeof id === 'string' && !within.includes(id)) throw liveChatNotFound(id);
        return;
      }
      const id = String((request.params as Record<string, unknown>)[locator.params]);
      const owner = locator.owner === undefined ? undefined : owners[locator.owner]!;
      if (!owner) {
        if (!within.includes(id)) throw liveChatNotFound(id);
        return;
      }
      const liveChatId = await owner.liveChatOf(id);
      if (liveChatId === undefined || !within.includes(liveChatId)) throw owner.notFound(id);
    });
  },
  { name: 'live-chat-scope', dependencies: ['auth'] },
);
