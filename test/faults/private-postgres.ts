import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './free-port.js';

const run = promisify(execFile);

/** The folder holding initdb and pg_ctl (the newest installed version), or null when there is none. */
export function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  const fromRoot = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
        .map((v) => join(root, v, 'bin'))
    : [];
  return fromRoot.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) ?? null;
}

/** Why the private-Postgres tests cannot run here, or null when they can. */
export function privatePostgresUnavailable(): string | null {
  if (!postgresBinDir()) return 'initdb/pg_ctl not found under /usr/lib/postgresql/<version>/bin';
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', 'postgres']).status !== 0) return 'running as root, but there is no postgres user to run initdb as';
  return null;
}

/**
 * A Postgres server of its own: a fresh cluster (initdb, trust auth) in a temporary folder, on
 * its own port, listening on 127.0.0.1 and a socket in that folder. Tests may crash, stop and
 * restart it without disturbing any other database. `destroy()` stops it and removes the folder.
 */
export class PrivatePostgres {
  private constructor(
    readonly port: number,
    private readonly folder: string,
    private readonly binDir: string,
    private readonly user: { uid: number; gid: number } | null,
  ) {}

  /** initdb into a new temporary folder and start the server; waits until it accepts connections. */
  static async start(): Promise<PrivatePostgres> {
    const binDir = postgresBinDir();
    if (!binDir) throw new Error('initdb not found: install the PostgreSQL server binaries');
    // initdb refuses to run as root: run the cluster as the postgres user then.
    let user: { uid: number; gid: number } | null = null;
    if (process.getuid?.() === 0) {
      const { stdout: uid } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      user = { uid: Number(uid.trim()), gid: Number(gid.trim()) };
    }
    const folder = await mkdtemp(join(tmpdir(), 'faults-pg-'));
    if (user) await chown(folder, user.uid, user.gid);
    const server = new PrivatePostgres(await freePort(), folder, binDir, user);
    try {
      await server.#as('initdb', ['-D', server.#dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--locale=C']);
      await server.startServer();
    } catch (error) {
      await server.destroy();
      throw error;
    }
    return server;
  }

  get #dataDir(): string {
    return join(this.folder, 'data');
  }

  /** A connection string to `database` on this server. */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Creates a database and returns its URL. */
  async createDatabase(name: string): Promise<string> {
    const client = new pg.Client({ connectionString: this.url() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  /** Starts the (stopped) server and waits until it accepts connections. */
  async startServer(): Promise<void> {
    const options = `-p ${this.port} -k ${this.folder} -c listen_addresses=127.0.0.1 -c max_connections=200`;
    await this.#as('pg_ctl', ['-D', this.#dataDir, '-l', join(this.folder, 'server.log'), '-o', options, '-w', '-t', '60', 'start']);
  }

  /**
   * Stops the server: `immediate` is a crash (no checkpoint, clients cut off, recovery on the
   * next start), `fast` the shutdown of an orderly restart (clients told 57P01 and disconnected).
   */
  async stopServer(mode: 'immediate' | 'fast'): Promise<void> {
    await this.#as('pg_ctl', ['-D', this.#dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
  }

  /**
   * Freezes every process of the server (SIGSTOP): it keeps its connections open but answers
   * nothing, as a server that hangs or a network that silently drops packets. `thaw()` resumes it.
   */
  async freeze(): Promise<void> {
    for (const pid of await this.#processIds()) process.kill(pid, 'SIGSTOP');
  }

  async thaw(): Promise<void> {
    for (const pid of await this.#processIds()) process.kill(pid, 'SIGCONT');
  }

  /** The postmaster and its children. */
  async #processIds(): Promise<number[]> {
    const postmaster = Number((await readFile(join(this.#dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    const { stdout } = await run('pgrep', ['-P', String(postmaster)]).catch(() => ({ stdout: '' }));
    return [postmaster, ...stdout.split('\n').filter(Boolean).map(Number)];
  }

  /** The server's log, for a failing test's message. */
  async log(): Promise<string> {
    return readFile(join(this.folder, 'server.log'), 'utf8').catch(() => '');
  }

  /** Stops the server if it runs and removes its folder. Safe to call more than once. */
  async destroy(): Promise<void> {
    if (existsSync(join(this.#dataDir, 'postmaster.pid'))) {
      await this.thaw().catch(() => {});
      await this.#as('pg_ctl', ['-D', this.#dataDir, '-m', 'immediate', '-w', '-t', '30', 'stop']).catch(() => {});
    }
    await rm(this.folder, { recursive: true, force: true });
  }

  /** Runs a server binary as the cluster's owner. Output goes to the log, not to pipes the server would inherit. */
  async #as(binary: string, args: string[]): Promise<void> {
    const command = join(this.binDir, binary);
    try {
      await (this.user
        ? run(command, args, { uid: this.user.uid, gid: this.user.gid, cwd: this.folder, timeout: 90_000 })
        : run(command, args, { cwd: this.folder, timeout: 90_000 }));
    } catch (error) {
      const { stderr, stdout } = error as { stderr?: string; stdout?: string };
      throw new Error(`${binary} ${args.at(-1)} failed: ${stderr || stdout || (error as Error).message}\n${await this.log()}`);
    }
  }
}
