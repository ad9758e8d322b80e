import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/types.js';
import { validationFailed } from '../domain/refusal.js';
import { ProblemError } from '../http/problem.js';
import * as repo from './repository.js';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const PURGE_INTERVAL_MS = 10 * 60 * 1000;
const REPLAYED_HEADERS = ['content-type', 'location'];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Accept an Idempotency-Key header on this route. */
    idempotent?: boolean;
  }
  interface FastifyRequest {
    idempotencyKey: HeldKey | null;
  }
}

/** A key this request holds: its lock is renewed until the response is recorded. */
interface HeldKey {
  apiKeyId: string;
  key: string;
  renewal: NodeJS.Timeout;
}

export interface IdempotencyOptions {
  db: Kysely<Database>;
  clock: Clock;
  /**
   * How long a running request's lock lasts between renewals. The holder renews it every third
   * of that for as long as it runs, so only a dead process's lock runs out (and then soon).
   */
  lockMs: number;
}

/** Identifies "the same request": method, path and a canonical form of the body. */
export function fingerprint(request: FastifyRequest): string {
  return createHash('sha256')
    .update(`${request.method} ${request.url.split('?')[0]}\n`)
    .update(canonicalJson(request.body ?? null))
    .digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Idempotency-Key on routes with `config.idempotent`: the first response to a key is stored
 * per API key for 24 h and replayed (with `Idempotent-Replayed: true`) for the same body;
 * another body is 422 idempotency_key_reused, a duplicate still running is 409
 * idempotency_key_in_use, and a 5xx leaves the key free for a retry.
 */
export const idempotencyPlugin = fp<IdempotencyOptions>(
  async (app: FastifyInstance, { db, clock, lockMs }) => {
    app.decorateRequest('idempotencyKey', null);

    const hold = (request: FastifyRequest, apiKeyId: string, key: string): void => {
      const renewal = setInterval(() => {
        repo.renewIdempotencyLock(db, apiKeyId, key, new Date(clock.now().getTime() + lockMs)).catch((error: unknown) =>
          request.log.warn({ err: error }, 'could not renew an idempotency lock'),
        );
      }, Math.max(10, Math.floor(lockMs / 3)));
      renewal.unref();
      request.idempotencyKey = { apiKeyId, key, renewal };
    };
    const release = (request: FastifyRequest): HeldKey | null => {
      const held = request.idempotencyKey;
      if (held) clearInterval(held.renewal);
      request.idempotencyKey = null;
      return held;
    };

    app.addHook('preHandler', async (request, reply) => {
      if (!request.routeOptions.config.idempotent) return;
      const header = request.headers['idempotency-key'];
      if (header === undefined) return;
      const key = Array.isArray(header) ? header[0]! : header;
      if (key.length < 1 || key.length > 255 || Array.isArray(header)) {
        throw validationFailed([{ field: '/headers/idempotency-key', code: 'invalid_idempotency_key', message: 'Idempotency-Key must be one value of 1–255 characters.' }]);
      }
      const apiKeyId = request.principal?.keyId ?? 'anonymous';
      const print = fingerprint(request);
      const now = clock.now();
      const claim = { apiKeyId, key, fingerprint: print, lockedUntil: new Date(now.getTime() + lockMs), expiresAt: new Date(now.getTime() + IDEMPOTENCY_TTL_MS) };

      for (let attempt = 0; attempt < 3; attempt++) {
        if (await repo.claimIdempotencyKey(db, claim)) {
          hold(request, apiKeyId, key);
          return;
        }
        const existing = await repo.findIdempotencyKey(db, apiKeyId, key);
        if (!existing) continue; // released or purged meanwhile: claim again
        const expired = existing.expiresAt <= now;
        const abandoned = existing.status === 'running' && existing.lockedUntil <= now;
        if (expired || abandoned) {
          if (await repo.takeOverIdempotencyKey(db, { ...claim, now })) {
            hold(request, apiKeyId, key);
            return;
          }
          continue;
        }
        if (existing.fingerprint !== print) {
          throw new ProblemError(422, 'idempotency_key_reused', 'This Idempotency-Key was used with a different request; use a new key.');
        }
        if (existing.status === 'running' || !existing.response) {
          throw new ProblemError(409, 'idempotency_key_in_use', 'A request with this Idempotency-Key is still running; retry shortly.', {}, { 'Retry-After': '1' });
        }
        const stored = existing.response;
        for (const [name, value] of Object.entries(stored.headers)) reply.header(name, value);
        return reply.code(stored.statusCode).header('idempotent-replayed', 'true').send(stored.payload);
      }
      throw new ProblemError(409, 'idempotency_key_in_use', 'A request with this Idempotency-Key is being processed; retry shortly.', {}, { 'Retry-After': '1' });
    });

    app.addHook('onSend', async (request, reply, payload) => {
      const held = release(request);
      if (!held) return payload;
      try {
        if (reply.statusCode >= 500) {
          await repo.releaseIdempotencyKey(db, held.apiKeyId, held.key);
        } else {
          const headers: Record<string, string> = {};
          for (const name of REPLAYED_HEADERS) {
            const value = reply.getHeader(name);
            if (value !== undefined) headers[name] = String(value);
          }
          await repo.completeIdempotencyKey(db, held.apiKeyId, held.key, { statusCode: reply.statusCode, headers, payload: String(payload ?? '') });
        }
      } catch (error) {
        // The response stands; an unrecorded key frees itself when its lock runs out.
        request.log.warn({ err: error }, 'could not record the idempotent response');
      }
      return payload;
    });
    // A request that ends without a response (the client went away) stops renewing too.
    app.addHook('onResponse', async (request) => void release(request));
    app.addHook('onRequestAbort', async (request) => void release(request));

    let purgeTimer: NodeJS.Timeout | undefined;
    app.addHook('onReady', async () => {
      purgeTimer = setInterval(() => {
        repo.purgeExpiredIdempotencyKeys(db, clock.now()).catch((error: unknown) => app.log.warn({ err: error }, 'idempotency purge failed'));
      }, PURGE_INTERVAL_MS);
      purgeTimer.unref();
    });
    app.addHook('onClose', async () => clearInterval(purgeTimer));
  },
  { name: 'idempotency', dependencies: ['auth'] },
);
