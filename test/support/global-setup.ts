import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { connectDatabase } from '../../src/db/connection.js';
import { migrate } from '../../src/db/migrate.js';

/**
 * On Postgres: fails fast, with a clear message, when DATABASE_URL does not answer.
 * On PGlite: migrates one embedded database and snapshots it, so that every test file starts
 * its own fresh copy from the snapshot instead of initialising and migrating anew.
 */
export default async function setup(): Promise<() => Promise<void>> {
  // `npx vitest` and `npm test` run on the `node` devDependency; without it, say so at once.
  if (Number(process.versions.node.split('.')[0]) < 24) {
    throw new Error(`The tests need Node.js 24 (this is ${process.versions.node}): run \`npm ci\`, which installs it as the \`node\` devDependency.`);
  }
  const url = process.env.DATABASE_URL;
  if (url) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
    } catch (error) {
      throw new Error(`DATABASE_URL is set but Postgres does not answer: ${(error as Error).message}`);
    } finally {
      await client.end().catch(() => {});
    }
    return async () => {};
  }
  const folder = await mkdtemp(join(tmpdir(), 'pglite-snapshot-'));
  const handle = await connectDatabase({ dataDir: 'memory://' });
  await migrate(handle);
  const snapshot = await handle.pglite!.dumpDataDir('none');
  const file = join(folder, 'migrated.tar');
  await writeFile(file, Buffer.from(await snapshot.arrayBuffer()));
  await handle.close();
  // Inherited by the test workers, which are forked after global setup.
  process.env.PGLITE_TEST_SNAPSHOT = file;
  return async () => {
    await rm(folder, { recursive: true, force: true });
  };
}
