import pg from 'pg';

/**
 * A database created for one run on the server of DATABASE_URL and dropped at its end, with one
 * connection of the bench's own for its checks (opening one per check would cost Postgres a
 * process each time).
 */
export class ScratchDatabase {
  private constructor(
    readonly name: string,
    readonly url: string,
    private readonly serverUrl: string,
    private readonly client: pg.Client,
  ) {}

  /** Creates `<label>_<time>` on the server and connects to it. */
  static async create(serverUrl: string, label: string): Promise<ScratchDatabase> {
    const name = `${label}_${Date.now().toString(36)}`;
    await onServer(serverUrl, `CREATE DATABASE ${name}`);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    return new ScratchDatabase(name, url.toString(), serverUrl, client);
  }

  async query<Row extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<Row[]> {
    return (await this.client.query<Row>(text, values)).rows;
  }

  /** Transactions committed in this database so far (statistics flushed first). */
  async commits(): Promise<number> {
    await this.client.query('SELECT pg_stat_force_next_flush()');
    const [row] = await this.query<{ n: string }>('SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()');
    return Number(row?.n);
  }

  /**
   * Transactions committed so far in the server's databases other than `own`: another load
   * sharing the machine shows here (statistics reach this view within about a second).
   */
  async commitsElsewhere(own: readonly string[]): Promise<number> {
    const [row] = await this.query<{ n: string | null }>('SELECT sum(xact_commit) AS n FROM pg_stat_database WHERE datname <> ALL($1::text[])', [own]);
    return Number(row?.n ?? 0);
  }

  async drop(): Promise<void> {
    await this.client.end().catch(() => undefined);
    await onServer(this.serverUrl, `DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`);
  }
}

async function onServer(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
