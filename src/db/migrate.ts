import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';

/** The folder of plain SQL migrations, the same from `src/db` and from `dist/db`. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

// Any constant works; it only has to be the same in every replica.
const MIGRATION_LOCK_ID = 727_274_001;

/**
 * A migration that rewrites a big table (filling a new index for a million contacts) takes
 * minutes: the statement timeout every other query has would abort it, and the service could
 * never start on that database. Migrations run without it; the client waits up to an hour.
 */
const MIGRATION_STATEMENT_WAIT_MS = 60 * 60 * 1000;

/** A migration statement, with the client's wait for it (pg reads query_timeout; its types omit it). */
const migrationStatement = (text: string, values: unknown[] = []): pg.QueryConfig<unknown[]> =>
  Object.assign({ text, values }, { query_timeout: MIGRATION_STATEMENT_WAIT_MS });

/** Runs statements inside one transaction; implemented for a pg pool and for PGlite. */
type TransactionRunner = <T>(
  work: (exec: (text: string) => Promise<void>, query: (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>) => Promise<T>,
) => Promise<T>;

export interface MigrationTarget {
  pool: pg.Pool | null;
  pglite?: PGlite | null;
}

export interface MigrationResult {
  applied: string[];
}

async function listMigrations(dir: string): Promise<string[]> {
  const files = await readdir(dir);
  return files.filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
}

function poolRunner(pool: pg.Pool): TransactionRunner {
  return async (work) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL statement_timeout = 0');
      const result = await work(
        async (text) => {
          await client.query(migrationStatement(text));
        },
        async (text, params) => (await client.query(migrationStatement(text, params))).rows,
      );
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  };
}

function pgliteRunner(pglite: PGlite): TransactionRunner {
  return (work) =>
    pglite.transaction((tx) =>
      work(
        async (text) => {
          await tx.exec(text);
        },
        async (text, params) => (await tx.query<Record<string, unknown>>(text, params)).rows,
      ),
    );
}

/**
 * Applies every migration in `dir` that has not been applied yet, each in its own transaction,
 * in file-name order. Concurrent callers (replicas starting together) serialise on an advisory
 * lock. Throws on the first failing migration, leaving it and later ones unapplied.
 */
export async function migrate(target: MigrationTarget, dir = MIGRATIONS_DIR): Promise<MigrationResult> {
  const run = target.pool ? poolRunner(target.pool) : target.pglite ? pgliteRunner(target.pglite) : null;
  if (!run) throw new Error('migrate needs a pg pool or a PGlite instance');
  const files = await listMigrations(dir);
  const applied: string[] = [];

  await run(async (exec) => {
    await exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  }).catch(async (error: unknown) => {
    // Two replicas creating the table at once: one loses with a unique violation; it exists now.
    if ((error as { code?: string }).code !== '23505') throw error;
  });

  for (const name of files) {
    const text = await readFile(join(dir, name), 'utf8');
    await run(async (exec, query) => {
      await query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`);
      const done = await query('SELECT 1 FROM schema_migrations WHERE name = $1', [name]);
      if (done.length > 0) return;
      await exec(text);
      await query('INSERT INTO schema_migrations (name) VALUES ($1)', [name]);
      applied.push(name);
    });
  }
  return { applied };
}
