import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { unaccent } from '@electric-sql/pglite/contrib/unaccent';
import { Kysely, PGliteDialect, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './types.js';

/** A Kysely instance plus what is needed to observe and close the connection behind it. */
export interface DatabaseHandle {
  db: Kysely<Database>;
  kind: 'postgres' | 'pglite';
  /** The pg pool when running on Postgres (for LISTEN/NOTIFY and pool metrics). */
  pool: pg.Pool | null;
  /** The embedded database when running on PGlite. */
  pglite: PGlite | null;
  /** Closes the pool or the embedded database. Safe to call once. */
  close(): Promise<void>;
}

export interface ConnectOptions {
  databaseUrl?: string | undefined;
  /** Folder for embedded PGlite; `memory://` keeps it in memory. */
  dataDir?: string | undefined;
  poolSize?: number | undefined;
  /** How long to wait for a pooled connection before giving up (ms). */
  connectionTimeoutMs?: number | undefined;
  statementTimeoutMs?: number | undefined;
  /** An already created PGlite (with PGLITE_EXTENSIONS) to use instead of opening `dataDir` (tests start from a snapshot). */
  pglite?: PGlite | undefined;
}

/**
 * Postgres extensions the migrations create (contact search: 0011). PGlite can only create
 * those it was started with, so every embedded database is opened with these.
 */
export const PGLITE_EXTENSIONS = { pg_trgm, unaccent };

/** How much longer than statement_timeout the client waits for an answer before giving up. */
const QUERY_TIMEOUT_MARGIN_MS = 2_000;

// Postgres returns int8 (count(*)) as a string; the counts here fit a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

/** Opens Postgres through a pg pool when a URL is given, else embedded PGlite in `dataDir`. */
export async function connectDatabase(options: ConnectOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) {
    const statementTimeoutMs = options.statementTimeoutMs ?? 15_000;
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
      statement_timeout: statementTimeoutMs,
      // The server enforces statement_timeout only while it answers. A server that stopped
      // answering (frozen, or cut off without a reset) would leave a query waiting forever:
      // give up on the client side a little later (→ 503 database_unavailable).
      query_timeout: statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS,
      idleTimeoutMillis: 30_000,
    });
    // A client losing its connection (database restart) must not crash the process. The pool
    // handles idle clients ('error' on the pool); a client checked out by a query or transaction
    // has no listener of its own (pg-pool removes it on checkout), so its 'error' event would be
    // uncaught. Its query rejects anyway (→ 503), and the pool discards the broken client.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      kind: 'postgres',
      pool,
      pglite: null,
      close: () => db.destroy(),
    };
  }

  const dataDir = options.dataDir ?? './.data';
  if (!options.pglite && !dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
  const pglite = options.pglite ?? (await PGlite.create(dataDir, { extensions: PGLITE_EXTENSIONS }));
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
  return {
    db,
    kind: 'pglite',
    pool: null,
    pglite,
    close: async () => {
      await db.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
}
