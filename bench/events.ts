/**
 * npm run bench:events — what one webhook costs: the service, Postgres and the receiver's CPU
 * per event while one subscription's worker sends a backlog of events, with nothing else
 * running. `npm run bench` measures the events' cost in throughput under load, where the
 * machine's noise is larger than any one change; this isolates the webhook path, for
 * comparing changes to it. Needs DATABASE_URL (a server where it may create and drop a scratch
 * database).
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:events
 *
 * The service runs as `npm run bench` runs it (production, from dist/) with one WhatsApp live
 * chat and one event subscription to the bench's receiver on localhost. One session made
 * through the API gives a real pair of events (`session.created`, `message.sent`); each round
 * then appends BENCH_EVENTS copies of them to the log in one transaction, as another replica
 * would (so the worker finds them by its poll), and measures from that commit until the
 * receiver has every one. The appending itself is left out of Postgres's figure.
 *
 * Options (environment): BENCH_EVENTS per round (1,000–200,000; 20,000), BENCH_ROUNDS (1–10; 3),
 * BENCH_CPU_PROF=1 (a CPU profile of the service in bench/results/, see
 * bench/profile-summary.ts). Other variables reach the service as they are, e.g.
 * `EVENT_SUBSCRIPTION_CONCURRENCY=64 npm run bench:events`.
 */
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { readCpu } from './support/cpu.js';
import { type EventReceiver, startEventReceiver } from './support/event-receiver.js';
import { OPERATOR_ID, prepareLiveChats } from './support/live-chats.js';
import { startProviderStandIn } from './support/provider-stand-in.js';
import { ScratchDatabase } from './support/scratch-database.js';
import { type ServiceProcess, buildService, startService } from './support/service-process.js';
import { describeMachine, intSetting, printTable, serverUrlSetting } from './support/settings.js';
import { median, ms, sleep, whole } from './support/stats.js';

const serverUrl = serverUrlSetting('npm run bench:events');
const EVENTS = intSetting('BENCH_EVENTS', 20_000, 1_000, 200_000);
const ROUNDS = intSetting('BENCH_ROUNDS', 3, 1, 10);
/** A round that has not delivered every event by then fails. */
const ROUND_TIMEOUT_MS = 180_000;

const root = fileURLToPath(new URL('..', import.meta.url));

interface EventsRound {
  delivered: number;
  /** From the append's commit until the last event arrived (the worker finds the events by its poll, up to a second later). */
  seconds: number;
  /** From the first event's arrival until the last's. */
  sendingSeconds: number;
  /** CPU µs per event, from the append's commit until the last event arrived. */
  service: number;
  postgres: number;
  receiver: number;
  /** Statement time (pg_stat_statements) per event of the window claim and of the window write; null without the extension. */
  claim: number | null;
  write: number | null;
}

/** The webhook worker's two statements of a window, told apart by their text. */
const STATEMENTS = `
  SELECT coalesce(sum(total_exec_time) FILTER (WHERE query LIKE '%claim_event_windows(%'), 0) AS claim_ms,
         coalesce(sum(total_exec_time) FILTER (WHERE query LIKE '%INSERT INTO event_window_deliveries%'), 0) AS write_ms
  FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`;

async function main(): Promise<void> {
  buildService(root);
  const db = await ScratchDatabase.create(serverUrl, 'bench_events');
  const provider = await startProviderStandIn();
  const receiver = await startEventReceiver();
  let service: ServiceProcess | null = null;
  let failed = false;
  try {
    const statements = await statementsTracked(db);
    service = await startService({ root, databaseUrl: db.url, whatsappApiBaseUrl: provider.url, cpuProfileDir: process.env.BENCH_CPU_PROF ? `${root}bench/results` : undefined });
    const { liveChats } = await prepareLiveChats(service, { count: 1, sendRate: 1000, features: true, receiverUrl: receiver.url });
    const phone = '+4915112345678';
    await service.api('POST', '/sessions', {
      liveChatId: liveChats[0]!.id,
      operatorId: OPERATOR_ID,
      contact: { name: 'Bench Person', phones: [phone] },
      account: phone,
      message: { template: { name: 'order_update', language: 'en_US', parameters: ['Bench'] } },
    });
    // The session's own events: the pair each round copies.
    if ((await countArrivals(receiver, 2, 30_000)).arrived < 2) throw new Error('the session\'s two events did not reach the receiver within 30 s');

    console.log(`npm run bench:events: ${ROUNDS} rounds of ${whole(EVENTS)} events appended at once, one subscription\n`);
    printTable([['machine', await describeMachine(db)]]);
    console.log();
    const rounds: EventsRound[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const result = await eventsRound(db, service.pid, receiver, statements);
      rounds.push(result);
      console.log(`round ${round}: ${whole(result.delivered)} of ${whole(EVENTS)} events in ${result.seconds.toFixed(1)} s from the append, ${result.sendingSeconds.toFixed(1)} s from the first arrival`);
      if (result.delivered < EVENTS) failed = true;
    }
    console.log();
    const each = (f: (r: EventsRound) => number | null) => [...rounds.map((r) => cell(f(r))), cell(median(rounds.map(f).filter((v): v is number => v !== null)))];
    printTable([
      ['', ...rounds.map((_, i) => `round ${i + 1}`), 'median'],
      ['webhooks/s, first to last arrival', ...each((r) => r.delivered / r.sendingSeconds)],
      ['CPU per event (µs): service', ...each((r) => r.service)],
      ['  Postgres (all its processes)', ...each((r) => r.postgres)],
      ['  receiver (the bench process)', ...each((r) => r.receiver)],
      ['  available (cores × round time)', ...each((r) => (cpus().length * r.seconds * 1e6) / EVENTS)],
      ['statement time per event (µs): claim', ...each((r) => r.claim)],
      ['  window write', ...each((r) => r.write)],
    ]);
    if (failed) console.log(`\n!! a round did not deliver every event within ${ROUND_TIMEOUT_MS / 1000} s`);
  } finally {
    await service?.stop();
    await receiver.close();
    await provider.close();
    await db.drop();
  }
  if (failed) process.exitCode = 1;
}

/** Whether pg_stat_statements can be read here (it must be in shared_preload_libraries): without it, no per-statement figures. */
async function statementsTracked(db: ScratchDatabase): Promise<boolean> {
  try {
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await db.query('SELECT pg_stat_statements_reset()');
    return true;
  } catch {
    return false;
  }
}

/** Appends EVENTS copies of the log's first two events in one transaction and measures until all arrived. */
async function eventsRound(db: ScratchDatabase, servicePid: number, receiver: EventReceiver, statements: boolean): Promise<EventsRound> {
  receiver.take();
  if (statements) await db.query('SELECT pg_stat_statements_reset()');
  await db.query(
    `INSERT INTO events (id, type, live_chat_id, data)
     SELECT gen_random_uuid(), e.type, e.live_chat_id, e.data
     FROM (SELECT type, live_chat_id, data FROM events ORDER BY xid, position LIMIT 2) AS e, generate_series(1, $1::integer / 2)`,
    [EVENTS],
  );
  const before = readCpu(servicePid);
  const started = performance.now();
  const { arrived: delivered, sendingSeconds } = await countArrivals(receiver, EVENTS, ROUND_TIMEOUT_MS);
  const seconds = (performance.now() - started) / 1000;
  const after = readCpu(servicePid);
  const per = (k: 'service' | 'postgres' | 'standIns') => (before && after ? ((after[k] - before[k]) / EVENTS) * 1e6 : Number.NaN);
  let claim: number | null = null;
  let write: number | null = null;
  if (statements) {
    const [row] = await db.query<{ claim_ms: number; write_ms: number }>(STATEMENTS);
    claim = (row!.claim_ms * 1000) / EVENTS;
    write = (row!.write_ms * 1000) / EVENTS;
  }
  return { delivered, seconds, sendingSeconds, service: per('service'), postgres: per('postgres'), receiver: per('standIns'), claim, write };
}

/** Distinct events arrived at the receiver until `wanted` or the timeout, and the seconds from the first to the last; looks every 5 ms. */
async function countArrivals(receiver: EventReceiver, wanted: number, timeoutMs: number): Promise<{ arrived: number; sendingSeconds: number }> {
  const started = performance.now();
  let arrived = 0;
  let first: number | null = null;
  while (arrived < wanted && performance.now() - started < timeoutMs) {
    await sleep(5);
    const events = receiver.take().events;
    if (events > 0) first ??= performance.now() - 5;
    arrived += events;
  }
  return { arrived, sendingSeconds: first === null ? Number.NaN : (performance.now() - first) / 1000 };
}

const cell = (v: number | null): string => (v === null || !Number.isFinite(v) ? '-' : ms(v));

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
