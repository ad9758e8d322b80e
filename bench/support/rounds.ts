import { type Backlog, type Drain, readBacklog, waitForDrain } from './backlog.js';
import { type CpuReading, cpuPerUnit, readCpu } from './cpu.js';
import type { EventReceiver } from './event-receiver.js';
import type { BenchLiveChat } from './live-chats.js';
import { type WrkRound, failedRequests, runPgbench, runWrk } from './load-tools.js';
import type { ProviderStandIn } from './provider-stand-in.js';
import type { ScratchDatabase } from './scratch-database.js';
import type { ServiceProcess } from './service-process.js';
import { wallClockMs } from './stats.js';

/** Everything a service round drives and reads. */
export interface ServiceUnderLoad {
  service: ServiceProcess;
  db: ScratchDatabase;
  provider: ProviderStandIn;
  receiver: EventReceiver;
  liveChats: readonly BenchLiveChat[];
  /** The wrk script (bench/sessions.lua). */
  script: string;
  connections: number;
  threads: number;
  drainTimeoutSeconds: number;
  /** The run's scratch databases: commits anywhere else mean another load shared the machine. */
  ownDatabases: readonly string[];
}

export interface ServiceRound {
  wrk: WrkRound;
  /** Sessions created (201) per second of the round. */
  rate: number;
  failed: number;
  /** 201 → the stand-in receiving the session's message, ms; `undelivered` never arrived. */
  deliveryLags: number[];
  undelivered: number;
  /** Events the receiver got (distinct), and their lags (arrival − occurredAt), ms. */
  events: { events: number; lags: number[] };
  /** The most one live chat sent in a second of the round and its drain. */
  busiestSecond: number;
  /** What was still to do when the load stopped, and how the drain went. */
  atStop: Backlog;
  drain: Drain;
  /** µs per session while loaded, and for the work left after the load. */
  cpu: Record<keyof CpuReading, number> | null;
  cpuAfterLoad: Record<keyof CpuReading, number> | null;
  commitsPerSession: number;
  /** Transactions committed in other databases of the server during the load. */
  commitsElsewhere: number;
}

/**
 * One round of POST /sessions by wrk, every request a new person (phones under `prefix`), then
 * a wait until the outbox and the event deliveries are empty (or the timeout is reached),
 * before anything else runs. Delivery and event lags are read once everything arrived.
 */
export async function serviceRound(target: ServiceUnderLoad, prefix: string, seconds: number): Promise<ServiceRound> {
  const { service, db, provider, receiver } = target;
  receiver.take(); // what arrived before this round
  const startedAt = wallClockMs();
  const commitsBefore = await db.commits();
  const elsewhereBefore = await db.commitsElsewhere(target.ownDatabases);
  const cpuBefore = readCpu(service.pid);
  const wrk = await runWrk(target.script, {
    url: service.url,
    adminKey: service.adminKey,
    liveChatIds: target.liveChats.map((c) => c.id),
    prefix,
    seconds,
    connections: target.connections,
    threads: target.threads,
    recordAnswers: true,
  });
  const cpuAfter = readCpu(service.pid);
  const commits = (await db.commits()) - commitsBefore;
  const commitsElsewhere = (await db.commitsElsewhere(target.ownDatabases)) - elsewhereBefore;
  const atStop = await readBacklog(db);
  const drain = await waitForDrain(db, target.drainTimeoutSeconds);
  const cpuDrained = readCpu(service.pid);

  const deliveryLags: number[] = [];
  let undelivered = 0;
  for (const [to, answeredAt] of wrk.answeredAt) {
    const arrivedAt = provider.arrivals.get(to);
    if (arrivedAt === undefined) undelivered += 1;
    else deliveryLags.push(arrivedAt - answeredAt);
  }
  return {
    wrk,
    rate: wrk.created / wrk.seconds,
    failed: failedRequests(wrk),
    deliveryLags,
    undelivered,
    events: receiver.take(),
    busiestSecond: Math.max(0, ...target.liveChats.map((c) => provider.busiestSecond(c.phoneNumberId, startedAt))),
    atStop,
    drain,
    cpu: cpuPerUnit(cpuBefore, cpuAfter, wrk.created),
    cpuAfterLoad: cpuPerUnit(cpuAfter, cpuDrained, wrk.created),
    commitsPerSession: wrk.created > 0 ? commits / wrk.created : Number.NaN,
    commitsElsewhere,
  };
}

export interface CeilingRound {
  tps: number;
  /** µs per transaction: Postgres and pgbench (as the load generator). */
  cpu: Record<keyof CpuReading, number> | null;
  /** Transactions committed in databases other than the run's own meanwhile. */
  commitsElsewhere: number;
}

/**
 * One pgbench round of a script on `db`: 32 clients on 2 threads, prepared statements, with
 * the server as it runs (fsync on).
 */
export async function ceilingRound(
  db: ScratchDatabase,
  options: { script: string; seconds: number; clients: number; defines?: Record<string, string>; ownDatabases: readonly string[] },
): Promise<CeilingRound> {
  const elsewhereBefore = await db.commitsElsewhere(options.ownDatabases);
  const before = readCpu(null);
  const { tps, transactions } = await runPgbench({ ...options, url: db.url, threads: 2 });
  const cpu = cpuPerUnit(before, readCpu(null), transactions);
  return { tps, cpu, commitsElsewhere: (await db.commitsElsewhere(options.ownDatabases)) - elsewhereBefore };
}
