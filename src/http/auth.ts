import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Kysely } from 'kysely';
import { hashApiKey } from '../api-keys/hash.js';
import { findActiveApiKeyByHash } from '../api-keys/repository.js';
import { ApiKeyCache } from '../api-keys/cache.js';
import type { Database } from '../db/types.js';
import { ProblemError } from './problem.js';

export type Scope = 'sessions' | 'admin';
/** What a route needs: a scope, or nothing (`public`: health, docs, webhooks). */
export type Access = Scope | 'public';

export interface Principal {
  /** The API key's id, or `admin-env` for ADMIN_API_KEY. */
  keyId: string;
  scopes: ReadonlySet<Scope>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** Authenticated keys of the last second; cleared when a key is revoked. */
    apiKeyCache: ApiKeyCache<Principal>;
  }
}

export interface AuthOptions {
  db: Kysely<Database>;
  adminApiKey: string | undefined;
}

const ADMIN_ENV_PRINCIPAL: Principal = { keyId: 'admin-env', scopes: new Set<Scope>(['admin', 'sessions']) };

function unauthorized(detail: string): ProblemError {
  return new ProblemError(401, 'unauthorized', detail, {}, { 'WWW-Authenticate': 'Bearer' });
}

function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/**
 * Authenticates `Authorization: Bearer <key>` on every route whose config does not say
 * `access: 'public'`, and checks the route's scope. Keys are compared by their hash; a known
 * key is remembered for a second (see ApiKeyCache).
 */
export const authPlugin = fp<AuthOptions>(
  async (app: FastifyInstance, options) => {
    const adminHash = options.adminApiKey ? Buffer.from(hashApiKey(options.adminApiKey), 'hex') : null;
    app.decorateRequest('principal', null);
    // Only known keys are cached: a key created a moment ago must work at once.
    const cache = new ApiKeyCache<Principal>();
    app.decorate('apiKeyCache', cache);

    app.addHook('onRequest', async (request) => {
      // Secure by default: a route that does not say otherwise needs the admin scope.
      if (request.is404) return;
      const access = request.routeOptions.config.access ?? 'admin';
      if (access === 'public') return;
      const token = bearerToken(request);
      if (!token) throw unauthorized('Send an API key as `Authorization: Bearer <key>`.');
      const hash = hashApiKey(token);
      let principal: Principal | null = null;
      if (adminHash && timingSafeEqual(adminHash, Buffer.from(hash, 'hex'))) {
        principal = ADMIN_ENV_PRINCIPAL;
      } else {
        principal = cache.get(hash) ?? null;
        if (!principal) {
          const row = await findActiveApiKeyByHash(options.db, hash);
          if (row) {
            const scopes = new Set(row.scopes as Scope[]);
            if (scopes.has('admin')) scopes.add('sessions');
            principal = { keyId: row.id, scopes };
            cache.set(hash, principal);
          }
        }
      }
      if (!principal) throw unauthorized('The API key is unknown or revoked.');
      request.principal = principal;
      if (!principal.scopes.has(access)) {
        throw new ProblemError(403, 'forbidden', `This API key lacks the \`${access}\` scope.`);
      }
    });
  },
  { name: 'auth', dependencies: ['errors'] },
);
