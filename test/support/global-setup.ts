import pg from 'pg';

/** Fails fast, with a clear message, when DATABASE_URL points at a database that is not up. */
export default async function setup(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) return;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new Error(`DATABASE_URL is set but Postgres does not answer: ${(error as Error).message}`);
  } finally {
    await client.end().catch(() => {});
  }
}
