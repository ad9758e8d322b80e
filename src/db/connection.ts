import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
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
  /** An already created PGlite to use instead of opening `dataDir` (tests start from a snapshot). */
  pglite?: PGlite | undefined;
}

// Postgres returns int8 (count(*)) as a string; the counts here fit a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

/** Opens Postgres through a pg pool when a URL is given, else embedded PGlite in `dataDir`. */
export async function connectDatabase(options: ConnectOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
      statement_timeout: options.statementTimeoutMs ?? 15_000,
      idleTimeoutMillis: 30_000,
    });
    // An idle client losing its connection (database restart) must not crash the process.
    pool.on('error', () => {});
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
  const pglite = options.pglite ?? (await PGlite.create(dataDir));
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
