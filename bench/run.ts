/**
 * npm run bench — POST /sessions against Postgres, next to Postgres's own ceiling for the same
 * writes, on this machine, in one run. Needs DATABASE_URL (a server where it may create a
 * scratch database) and pgbench on the PATH.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench
 *
 * Options (environment): BENCH_CONNECTIONS (32), BENCH_SECONDS (20), BENCH_WARMUP_SECONDS (5),
 * BENCH_SEND_RATE (the live chat's sendRatePerSecond, 1000), BENCH_TEMPLATES=1 (the live chat
 * keeps a synced template catalogue, which every request's template is checked against).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';

const baseUrl = process.env.DATABASE_URL;
if (!baseUrl) {
  console.error('npm run bench needs DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/test');
  process.exit(2);
}
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 5);
// The most a live chat may send: deliveries are paced to it (counted by the stand-in's clock).
const SEND_RATE = Number(process.env.BENCH_SEND_RATE ?? 1000);
const TEMPLATES = process.env.BENCH_TEMPLATES === '1';
const BUSINESS_ACCOUNT_ID = '102290129340398';
/** The benchmark's template, as the stand-in's catalogue lists it (one body parameter). */
const CATALOGUE = {
  data: [
    { name: 'order_update', language: 'en_US', status: 'APPROVED', category: 'UTILITY', id: '1', components: [{ type: 'BODY', text: 'Hi {{1}}, your order ships today' }] },
    { name: 'welcome', language: 'en_US', status: 'APPROVED', category: 'MARKETING', id: '2', components: [{ type: 'BODY', text: 'Welcome!' }] },
  ],
  paging: { cursors: { before: 'MAZDZD', after: 'MjQZD' } },
};
const ADMIN_KEY = `bench-${randomBytes(16).toString('hex')}`;
const root = fileURLToPath(new URL('..', import.meta.url));

const dbName = `bench_${Date.now().toString(36)}`;
const dbUrl = (() => {
  const u = new URL(baseUrl);
  u.pathname = `/${dbName}`;
  return u.toString();
})();

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  await client.query(sql);
  await client.end();
}

/**
 * A WhatsApp Cloud API stand-in that records when each recipient's message arrived. It does
 * as little as it can (a real provider costs this machine nothing): the recipient is read with
 * a regular expression and the answer is built as a string. It also lists the benchmark's
 * template catalogue (`GET /{businessAccountId}/message_templates`).
 */
async function startProvider() {
  const arrivals = new Map<string, number>();
  /** Sends per second of the provider's clock, to show the pacing. */
  const perSecond = new Map<number, number>();
  let count = 0;
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith(`/${BUSINESS_ACCOUNT_ID}/message_templates`)) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(CATALOGUE));
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const to = /"to":"(\d+)"/.exec(body)?.[1] ?? '';
      arrivals.set(to, performance.now());
      const second = Math.floor(Date.now() / 1000);
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
      count += 1;
      const answer = `{"messaging_product":"whatsapp","contacts":[{"input":"${to}","wa_id":"${to}"}],"messages":[{"id":"wamid.bench${count}"}]}`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    count: () => count,
    busiestSecond: () => Math.max(0, ...perSecond.values()),
    close: () => server.close(),
  };
}

async function startService(providerUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const port = 30_000 + Math.floor(Math.random() * 20_000);
  // BENCH_CPU_PROF=1 writes a CPU profile of the service to bench/results/ (see --cpu-prof).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', `${root}bench/results`] : [];
  const child = spawn(process.execPath, [...profile, 'dist/server.js'], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: dbUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      ADMIN_API_KEY: ADMIN_KEY,
      SECRETS_KEY: randomBytes(32).toString('base64'),
      WHATSAPP_API_BASE_URL: providerUrl,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_MINUTE: '0',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) return { child, url };
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill();
  throw new Error('the service did not become ready');
}

async function api(url: string, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const ACCOUNT_FIELD = '"account":"';

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

/** Drives POST /sessions; every request a new person with an inline contact and a template. */
async function drive(url: string, liveChatId: string, seconds: number, prefix: string, created?: Map<string, number>) {
  let n = 0;
  const statuses: Record<string, number> = {};
  const [bodyStart, bodyEnd] = JSON.stringify({
    liveChatId,
    operatorId: 'op-bench',
    contact: { name: 'Bench Person', phones: ['PHONE'] },
    message: { template: { name: 'order_update', language: 'en_US', parameters: ['Bench'] } },
  }).split('PHONE') as [string, string];
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/sessions',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        // The body is built from a template and the answer's account found by position, so that
        // the load generator takes as little of the machine's CPU as it can.
        setupRequest: (request) => {
          // German mobile numbers (+49 151…, +49 152…): real-world numbers, which the phone
          // parser places at once (numbers in unallocated ranges take it three times as long).
          const phone = `+4915${prefix}${String(n++).padStart(8, '0')}`;
          return { ...request, body: `${bodyStart}${phone}${bodyEnd}` };
        },
        onResponse: (status, body) => {
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (created && status === 201) {
            const at = body.indexOf(ACCOUNT_FIELD) + ACCOUNT_FIELD.length + 1; // past `"account":"+`
            created.set(body.slice(at, body.indexOf('"', at)), performance.now());
          }
        },
      },
    ],
  });
  return { result, statuses };
}

/** pgbench's rate for a script with the benchmark's connections and duration. */
function pgbench(liveChatId: string, script: string): number {
  const out = execFileSync(
    'pgbench',
    ['-n', '-c', String(CONNECTIONS), '-j', String(Math.min(CONNECTIONS, cpus().length)), '-T', String(SECONDS), '-M', 'prepared', '-D', `live_chat_id=${liveChatId}`, '-f', `${root}bench/${script}`, dbUrl],
    { encoding: 'utf8' },
  );
  return Number(/tps = ([\d.]+)/.exec(out)?.[1]);
}

/**
 * CPU seconds used so far by the service, by this process (load generator and provider
 * stand-in) and by all Postgres processes, read from /proc (Linux); null elsewhere.
 */
function cpuSeconds(servicePid: number): { service: number; bench: number; postgres: number } | null {
  const ticks = (stat: string) => {
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100/s)
  };
  try {
    let postgres = 0;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (stat.includes('(postgres)')) postgres += ticks(stat);
      } catch {
        // The process ended meanwhile.
      }
    }
    const usage = process.cpuUsage();
    return { service: ticks(readFileSync(`/proc/${servicePid}/stat`, 'utf8')), bench: (usage.user + usage.system) / 1e6, postgres };
  } catch {
    return null;
  }
}

/** Transactions committed in the bench database so far (pg_stat_database; flushed first). */
async function commits(): Promise<number> {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  await client.query('SELECT pg_stat_force_next_flush()').catch(() => undefined);
  const { rows } = await client.query('SELECT xact_commit::bigint AS n FROM pg_stat_database WHERE datname = current_database()');
  await client.end();
  return Number(rows[0].n);
}

async function outboxDepth(): Promise<number> {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  const { rows } = await client.query("SELECT count(*)::int AS n FROM messages WHERE status = 'queued'");
  await client.end();
  return rows[0].n;
}

async function main() {
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
  await admin(`CREATE DATABASE ${dbName}`);
  const provider = await startProvider();
  const service = await startService(provider.url);
  try {
    const chat = await api(service.url, 'POST', '/live-chats', {
      name: 'Bench',
      channel: {
        type: 'whatsapp',
        phoneNumberId: '106540352242922',
        accessToken: 'bench-token',
        sendRatePerSecond: SEND_RATE,
        ...(TEMPLATES ? { businessAccountId: BUSINESS_ACCOUNT_ID } : {}),
      },
    });
    await api(service.url, 'PUT', `/live-chats/${chat.id}/operators/op-bench`);
    if (TEMPLATES) console.log(`template catalogue: ${JSON.stringify(await api(service.url, 'POST', `/live-chats/${chat.id}/templates/sync`))}`);

    console.log(`warming up for ${WARMUP_SECONDS} s…`);
    await drive(service.url, chat.id, WARMUP_SECONDS, '1');
    // What the warm-up queued beyond the live chat's rate goes out first, so that the run starts with an empty outbox.
    const warmupBacklog = await outboxDepth();
    for (let i = 0; i < (5 + warmupBacklog / SEND_RATE) * 2 && (await outboxDepth()) > 0; i++) await new Promise((r) => setTimeout(r, 500));

    console.log(`POST /sessions with ${CONNECTIONS} connections for ${SECONDS} s…`);
    const created = new Map<string, number>();
    const sentBefore = provider.count();
    const started = performance.now();
    const commitsBefore = await commits();
    const cpuBefore = cpuSeconds(service.child.pid!);
    const { result, statuses } = await drive(service.url, chat.id, SECONDS, '2', created);
    const cpuAfter = cpuSeconds(service.child.pid!);
    const elapsed = (performance.now() - started) / 1000;
    // Let delivery finish what was accepted (at the live chat's rate), then read its rate and lag.
    const backlog = await outboxDepth();
    const drainSeconds = 10 + backlog / SEND_RATE;
    for (let i = 0; i < drainSeconds * 2 && (await outboxDepth()) > 0; i++) await new Promise((r) => setTimeout(r, 500));
    const depthAfter = await outboxDepth();
    const delivered = provider.count() - sentBefore;
    const commitsDuring = (await commits()) - commitsBefore;
    const lags = [...created].map(([to, at]) => (provider.arrivals.get(to) ?? Number.NaN) - at).filter((x) => Number.isFinite(x));
    const deliveryEnd = Math.max(...[...created.keys()].map((to) => provider.arrivals.get(to) ?? 0));

    console.log(`pgbench ceiling with ${CONNECTIONS} clients for ${SECONDS} s…`);
    // The ceiling: the initiation's writes as a transaction of three inserts. Also measured,
    // for reference: the same writes as the one prepared statement the service sends.
    const tps = pgbench(chat.id, 'ceiling.sql');
    const oneStatementTps = pgbench(chat.id, 'ceiling-one-statement.sql');

    const ok = statuses['201'] ?? 0;
    const total = Object.values(statuses).reduce((a, b) => a + b, 0) + result.errors + result.timeouts;
    const rate = ok / elapsed;
    const rows: [string, string][] = [
      ['machine', `${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`],
      ['connections / duration', `${CONNECTIONS} / ${SECONDS} s`],
      ['live chat', `sendRatePerSecond ${SEND_RATE}, template catalogue ${TEMPLATES ? 'synced' : 'none'}`],
      ['requests (201 / all)', `${ok} / ${total}${ok === total ? '' : `  statuses ${JSON.stringify(statuses)}, errors ${result.errors}, timeouts ${result.timeouts}`}`],
      ['POST /sessions', `${rate.toFixed(0)} sessions/s`],
      ['latency p50 / p99', `${result.latency.p50} ms / ${result.latency.p99} ms`],
      ['ceiling (pgbench, 3 inserts, 1 tx)', `${tps.toFixed(0)} tps`],
      ['ratio', (rate / tps).toFixed(2)],
      ['pgbench, as one statement', `${oneStatementTps.toFixed(0)} tps (ratio to it ${(rate / oneStatementTps).toFixed(2)})`],
      ['dispatcher', `${delivered} delivered, ${(delivered / ((deliveryEnd - started) / 1000)).toFixed(0)} messages/s; outbox depth after: ${depthAfter}`],
      ['pacing', `${backlog} queued when the load stopped; busiest provider second ${provider.busiestSecond()} sends (rate ${SEND_RATE})`],
      [
        'CPU per session (µs)',
        cpuBefore && cpuAfter && ok > 0
          ? (['service', 'postgres', 'bench'] as const).map((k) => `${k} ${(((cpuAfter[k] - cpuBefore[k]) / ok) * 1e6).toFixed(0)}`).join(', ') +
            ` (of ${((cpus().length * elapsed) / ok * 1e6).toFixed(0)} available)`
          : 'not measured (needs /proc)',
      ],
      ['Postgres commits per session', ok > 0 ? (commitsDuring / ok).toFixed(3) : '-'],
      ['201 → provider call p50 / p99', `${percentile(lags, 50).toFixed(0)} ms / ${percentile(lags, 99).toFixed(0)} ms`],
    ];
    console.log();
    for (const [k, v] of rows) console.log(`${k.padEnd(36)} ${v}`);
    const pass = ok === total && rate / tps >= 0.7 && result.latency.p99 <= 50;
    console.log(`\n${pass ? 'PASS' : 'BELOW TARGET'}: target ratio ≥ 0.70 and p99 ≤ 50 ms with every request 201`);
  } finally {
    service.child.kill('SIGTERM');
    await new Promise((r) => service.child.once('exit', r));
    provider.close();
    await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  }
}

await main();
