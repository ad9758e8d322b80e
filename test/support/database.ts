import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { type DatabaseHandle, PGLITE_EXTENSIONS, connectDatabase } from '../../src/db/connection.js';
import { migrate } from '../../src/db/migrate.js';

export const usingPostgres = Boolean(process.env.DATABASE_URL);

export interface TestDatabase {
  handle: DatabaseHandle;
  /** The private database's URL on Postgres (for a second process or pool), else null. */
  url: string | null;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * A fresh, migrated database for one test file: a new Postgres database when DATABASE_URL is
 * set, else an in-memory PGlite. Nothing is shared between files.
 */
export async function createTestDatabase(options: { poolSize?: number } = {}): Promise<TestDatabase> {
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    // Start from the migrated snapshot global-setup made; migrate() is then a quick no-op.
    const snapshot = process.env.PGLITE_TEST_SNAPSHOT;
    const pglite = snapshot ? await PGlite.create({ loadDataDir: new Blob([await readFile(snapshot)]), extensions: PGLITE_EXTENSIONS }) : undefined;
    const handle = await connectDatabase({ dataDir: 'memory://', pglite });
    await migrate(handle);
    return { handle, url: null, drop: () => handle.close() };
  }
  const name = `test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = withDatabase(baseUrl, name);
  const handle = await connectDatabase({ databaseUrl: url, poolSize: options.poolSize ?? 20 });
  await migrate(handle);
  return {
    handle,
    url,
    drop: async () => {
      await handle.close();
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
