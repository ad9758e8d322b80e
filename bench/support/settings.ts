import { cpus, totalmem } from 'node:os';
import type { ScratchDatabase } from './scratch-database.js';

/** A whole-number setting from the environment, within bounds; stops the run naming it otherwise. */
export function intSetting(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`);
    process.exit(2);
  }
  return value;
}

/** BENCH_FEATURES: `on` (the default) or `off`. */
export function featuresSetting(): boolean {
  const raw = process.env.BENCH_FEATURES ?? 'on';
  if (raw !== 'on' && raw !== 'off') {
    console.error(`BENCH_FEATURES must be on or off (got ${JSON.stringify(raw)})`);
    process.exit(2);
  }
  return raw === 'on';
}

/** DATABASE_URL, which every bench needs (a server where it may create and drop scratch databases). */
export function serverUrlSetting(command: string): string {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error(`${command} needs DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/test`);
    process.exit(2);
  }
  return url;
}

/** The machine, Node and Postgres, in one line. */
export async function describeMachine(db: ScratchDatabase): Promise<string> {
  const [pg] = await db.query<{ version: string; fsync: string; commit: string }>(
    "SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS commit",
  );
  return (
    `${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ` +
    `Postgres ${pg?.version.split(' ')[0]} on the same machine (fsync ${pg?.fsync}, synchronous_commit ${pg?.commit})`
  );
}

/** Prints rows of a label and cells, the cells in columns of `width`. */
export function printTable(rows: readonly (readonly string[])[], labelWidth = 42, width = 18): void {
  for (const [label = '', ...cells] of rows) console.log(`${label.padEnd(labelWidth)}${cells.map((c) => c.padEnd(width)).join('').trimEnd()}`);
}
