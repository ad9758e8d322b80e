import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type DatabaseHandle, connectDatabase } from '../../src/db/connection.js';
import { PrivatePostgres, privatePostgresUnavailable } from './private-postgres.js';

/** An empty database for service processes (they migrate it at start-up), and a handle to check it. */
export interface FaultDatabase {
  url: string;
  /** A small pool of the test's own, for assertions on what the services wrote. */
  handle: DatabaseHandle;
  /** The private server behind it, when there is one. */
  server: PrivatePostgres | null;
  drop(): Promise<void>;
}

/**
 * Why the fault tests that need Postgres (but do not stop it) cannot run, or null: they use
 * DATABASE_URL when it is set, else a private server.
 */
export function faultDatabaseUnavailable(): string | null {
  if (process.env.DATABASE_URL) return null;
  const missing = privatePostgresUnavailable();
  return missing ? `DATABASE_URL is not set and no private Postgres can be started (${missing})` : null;
}

/**
 * A fresh database: on the given private server, else on DATABASE_URL's server, else on a new
 * private server started for it. The service processes create the schema themselves.
 */
export async function createFaultDatabase(server?: PrivatePostgres): Promise<FaultDatabase> {
  const name = `faults_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const baseUrl = server ? undefined : process.env.DATABASE_URL;
  const owned = server || baseUrl ? null : await PrivatePostgres.start();
  const host = server ?? owned;
  let url: string;
  if (host) {
    url = await host.createDatabase(name);
  } else {
    const admin = new pg.Client({ connectionString: baseUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const parsed = new URL(baseUrl!);
    parsed.pathname = `/${name}`;
    url = parsed.toString();
  }
  const handle = await connectDatabase({ databaseUrl: url, poolSize: 3 });
  return {
    url,
    handle,
    server: host,
    drop: async () => {
      await handle.close().catch(() => {});
      if (owned) return owned.destroy();
      if (server) return;
      const admin = new pg.Client({ connectionString: baseUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
