import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Kysely } from 'kysely';
import { hashApiKey } from '../api-keys/hash.js';
import { findActiveApiKeyByHash } from '../api-keys/repository.js';
import { ApiKeyCache } from '../api-keys/cache.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/types.js';
import { AuthFailureLimiter } from './auth-failures.js';
import { ProblemError } from './problem.js';

export type Scope = 'sessions' | 'admin';
/**
 * What a route needs: an API key with a scope; nothing (`public`: health, docs); the provider's
 * own secret, which the route checks (`webhook`); or METRICS_TOKEN when one is set (`metrics`).
 */
export type Access = Scope | 'public' | 'webhook' | 'metrics';

export interface Principal {
  /** The API key's id, or `admin-env` for ADMIN_API_KEY. */
  keyId: string;
  scopes: ReadonlySet<Scope>;
  /** The live chats a restricted key acts in; null: every live chat. */
  liveChatIds: readonly string[] | null;
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
  /** When set, GET /metrics (access `metrics`) needs it as a bearer token. */
  metricsToken?: string | undefined;
  /** Failed authentications per client address and minute before it is refused unread; 0: no limit. */
  authFailuresPerMinute: number;
  clock: Clock;
}

const ADMIN_ENV_PRINCIPAL: Principal = { keyId: 'admin-env', scopes: new Set<Scope>(['admin', 'sessions']), liveChatIds: null };

function unauthorized(detail: string): ProblemError {
  return new ProblemError(401, 'unauthorized', detail, {}, { 'WWW-Authenticate': 'Bearer' });
}

function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Whether a request's credentials are checked (and its failures counted): a webhook always
 * carries the provider's secret; any other non-public route when it sends an Authorization header.
 */
function carriesCredentials(request: FastifyRequest, access: Access, metricsToken: string | undefined): boolean {
  if (access === 'public' || (access === 'metrics' && !metricsToken)) return false;
  return access === 'webhook' || request.headers.authorization !== undefined;
}

/**
 * Authenticates `Authorization: Bearer <key>` on every route whose config does not say otherwise,
 * and checks the route's scope. Keys are compared by their hash; a known key is remembered for a
 * second (see ApiKeyCache). A client address whose credentials failed too often in the last
 * minute (unknown keys, wrong webhook secrets or signatures, a wrong metrics token) is answered
 * 429 before any of that work.
 */
export const authPlugin = fp<AuthOptions>(
  async (app: FastifyInstance, options) => {
    const adminHash = options.adminApiKey ? Buffer.from(hashApiKey(options.adminApiKey), 'hex') : null;
    const metricsHash = options.metricsToken ? sha256(options.metricsToken) : null;
    const failures = new AuthFailureLimiter(options.authFailuresPerMinute, () => options.clock.now().getTime());
    app.decorateRequest('principal', null);
    // Only known keys are cached: a key created a moment ago must work at once.
    const cache = new ApiKeyCache<Principal>();
    app.decorate('apiKeyCache', cache);

    app.addHook('onRequest', async (request) => {
      if (request.is404) return;
      // Secure by default: a route that does not say otherwise needs the admin scope.
      const access = request.routeOptions.config.access ?? 'admin';
      if (access === 'public' || (access === 'metrics' && !metricsHash)) return;
      const blockedMs = carriesCredentials(request, access, options.metricsToken) ? failures.blockedFor(request.ip) : 0;
      if (blockedMs > 0) {
        const seconds = Math.ceil(blockedMs / 1000);
        throw new ProblemError(429, 'rate_limited', `Too many failed authentications from this address; retry after ${seconds} s.`, {}, {
          'Retry-After': String(seconds),
        });
      }
      if (access === 'webhook') return;
      const token = bearerToken(request);
      if (access === 'metrics') {
        if (!token || !timingSafeEqual(sha256(token), metricsHash!)) throw unauthorized('Send METRICS_TOKEN as `Authorization: Bearer <token>`.');
        return;
      }
      if (!token) throw unauthorized('Send an API key as `Authorization: Bearer <key>`.');
      const principal = await authenticate(token);
      if (!principal) throw unauthorized('The API key is unknown or revoked.');
      request.principal = principal;
      if (!principal.scopes.has(access)) {
        throw new ProblemError(403, 'forbidden', `This API key lacks the \`${access}\` scope.`);
      }
    });

    // Counted as the answer goes out, so that the next request already sees it.
    app.addHook('onSend', async (request, reply, payload) => {
      const access = request.routeOptions.config.access ?? 'admin';
      const failed = reply.statusCode === 401 || request.problemCode === 'verification_failed';
      if (failed && !request.is404 && carriesCredentials(request, access, options.metricsToken)) failures.recordFailure(request.ip);
      return payload;
    });

    async function authenticate(token: string): Promise<Principal | null> {
      const hash = hashApiKey(token);
      if (adminHash && timingSafeEqual(adminHash, Buffer.from(hash, 'hex'))) return ADMIN_ENV_PRINCIPAL;
      const cached = cache.get(hash);
      if (cached) return cached;
      const row = await findActiveApiKeyByHash(options.db, hash);
      if (!row) return null;
      const scopes = new Set(row.scopes as Scope[]);
      if (scopes.has('admin')) scopes.add('sessions');
      const principal: Principal = { keyId: row.id, scopes, liveChatIds: row.live_chat_ids };
      cache.set(hash, principal);
      return principal;
    }
  },
  { name: 'auth', dependencies: ['errors'] },
);
