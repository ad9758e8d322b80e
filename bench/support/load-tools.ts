import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Stops the run with how to install them when `wrk` or `pgbench` (the load generators, both
 * written in C so that they take little of the machine) are not on the PATH.
 */
export function requireTools(command: string, tools: readonly ('wrk' | 'pgbench')[]): void {
  const missing = tools.filter((tool) => (spawnSync(tool, ['--version'], { stdio: 'ignore' }).error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT');
  if (missing.length === 0) return;
  console.error(`${command} needs ${missing.join(' and ')} on the PATH. On Debian or Ubuntu: sudo apt-get install wrk postgresql-client`);
  process.exit(2);
}

/** Runs a command without blocking this process (it serves the stand-ins meanwhile); rejects on a non-zero exit. */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}: ${err || out}`))));
  });
}

export interface WrkRound {
  seconds: number;
  /** Answers 201. */
  created: number;
  /** Every other answer, by status. */
  otherStatuses: Record<string, number>;
  /** Socket errors and timeouts (wrk's own count of statuses ≥ 400 is in otherStatuses already). */
  errors: { connect: number; read: number; write: number; timeout: number };
  p50Ms: number;
  p99Ms: number;
  /** When each session's 201 arrived, by its account's digits (wall clock, ms); empty unless asked for. */
  answeredAt: Map<string, number>;
}

export interface WrkOptions {
  url: string;
  adminKey: string;
  liveChatIds: readonly string[];
  /** One digit, different in every round of a run: it keeps the phones of the run unique. */
  prefix: string;
  seconds: number;
  connections: number;
  threads: number;
  /** Note when each 201 arrived (for the 201 → provider lag). */
  recordAnswers: boolean;
}

/** One round of POST /sessions by wrk with bench/sessions.lua (every request a new person). */
export async function runWrk(script: string, options: WrkOptions): Promise<WrkRound> {
  if (!/^\d$/.test(options.prefix)) throw new Error('the phone prefix of a round is one digit');
  const dir = mkdtempSync(join(tmpdir(), 'bench-wrk-'));
  const answers = options.recordAnswers ? join(dir, 'answers.txt') : '-';
  try {
    const out = await run('wrk', [
      '-t', String(options.threads), '-c', String(options.connections), '-d', `${options.seconds}s`, '--timeout', '10s',
      '-H', `authorization: Bearer ${options.adminKey}`, '-H', 'content-type: application/json',
      '-s', script, options.url, '--', options.prefix, answers, ...options.liveChatIds,
    ]);
    const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
    if (!line) throw new Error(`wrk printed no result:\n${out}`);
    const r = JSON.parse(line.slice('BENCH_RESULT '.length)) as {
      created: number; others: Record<string, number>; durationUs: number;
      errors: { connect: number; read: number; write: number; status: number; timeout: number };
      p50Us: number; p99Us: number;
    };
    const answeredAt = new Map<string, number>();
    if (options.recordAnswers) {
      for (const row of readFileSync(answers, 'utf8').split('\n')) {
        const space = row.indexOf(' ');
        if (space > 0) answeredAt.set(row.slice(0, space), Number(row.slice(space + 1)) / 1000);
      }
    }
    const { connect, read, write, timeout } = r.errors;
    return { seconds: r.durationUs / 1e6, created: r.created, otherStatuses: r.others, errors: { connect, read, write, timeout }, p50Ms: r.p50Us / 1000, p99Ms: r.p99Us / 1000, answeredAt };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Requests of a round that did not answer 201 (other statuses, socket errors, timeouts). */
export const failedRequests = (round: WrkRound): number =>
  Object.values(round.otherStatuses).reduce((a, b) => a + b, 0) + round.errors.connect + round.errors.read + round.errors.write + round.errors.timeout;

/** pgbench's rate (tps, without the initial connection time) and transactions for a script. */
export async function runPgbench(options: {
  url: string;
  script: string;
  seconds: number;
  clients: number;
  threads: number;
  defines?: Record<string, string>;
}): Promise<{ tps: number; transactions: number }> {
  const defines = Object.entries(options.defines ?? {}).flatMap(([k, v]) => ['-D', `${k}=${v}`]);
  const out = await run('pgbench', ['-n', '-c', String(options.clients), '-j', String(options.threads), '-M', 'prepared', '-T', String(options.seconds), ...defines, '-f', options.script, options.url]);
  const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1]);
  const transactions = Number(/transactions actually processed: (\d+)/.exec(out)?.[1]);
  if (!Number.isFinite(tps) || !Number.isFinite(transactions)) throw new Error(`pgbench printed no tps:\n${out}`);
  return { tps, transactions };
}
