/**
 * npm run bench — POST /sessions on Postgres beside Postgres's own ceiling for the same writes,
 * on this machine, in one run, rounds alternating so that both see the same machine. Needs
 * DATABASE_URL (a server where it may create and drop scratch databases), wrk and pgbench.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench
 *
 * The headline: ratio = median service rate / median ceiling tps (target ≥ 0.70) and the
 * median of the rounds' p99 latency (target ≤ 40 ms), with every request answered 201 and
 * everything accepted delivered after each round.
 *
 * Options (environment): BENCH_SECONDS per round (8–20, 15), BENCH_WARMUP_SECONDS (5),
 * BENCH_LIVE_CHATS (4) and BENCH_SEND_RATE (their sendRatePerSecond, 1000), BENCH_FEATURES
 * (on: an event subscription and a synced template catalogue, and each round also run once
 * without the subscription, for the events' cost; off: neither),
 * BENCH_DRAIN_TIMEOUT_SECONDS (60), BENCH_CPU_PROF=1 (a CPU profile of the service in
 * bench/results/, see bench/profile-summary.ts). Other variables reach the service as they are.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describeBacklog, describeDrain } from './support/backlog.js';
import { startEventReceiver } from './support/event-receiver.js';
import { prepareLiveChats, subscribeReceiver } from './support/live-chats.js';
import { requireTools } from './support/load-tools.js';
import { startProviderStandIn } from './support/provider-stand-in.js';
import { type CeilingRound, type ServiceRound, type ServiceUnderLoad, ceilingRound, serviceRound } from './support/rounds.js';
import { ScratchDatabase } from './support/scratch-database.js';
import { buildService, startService } from './support/service-process.js';
import { describeMachine, featuresSetting, intSetting, printTable, serverUrlSetting } from './support/settings.js';
import { median, ms, percentile, whole } from './support/stats.js';

const serverUrl = serverUrlSetting('npm run bench');
requireTools('npm run bench', ['wrk', 'pgbench']);
const SECONDS = intSetting('BENCH_SECONDS', 15, 8, 20);
const WARMUP_SECONDS = intSetting('BENCH_WARMUP_SECONDS', 5, 1, 60);
const LIVE_CHATS = intSetting('BENCH_LIVE_CHATS', 4, 1, 50);
const SEND_RATE = intSetting('BENCH_SEND_RATE', 1000, 1, 1000);
const DRAIN_TIMEOUT_SECONDS = intSetting('BENCH_DRAIN_TIMEOUT_SECONDS', 60, 5, 3600);
const FEATURES = featuresSetting();
const CONNECTIONS = 32;
const ROUNDS = 3;
const TARGET_RATIO = 0.7;
const TARGET_P99_MS = 40;

const root = fileURLToPath(new URL('..', import.meta.url));
const bench = (file: string) => `${root}bench/${file}`;

async function main(): Promise<void> {
  buildService(root);
  const db = await ScratchDatabase.create(serverUrl, 'bench');
  const ceilingDb = await ScratchDatabase.create(serverUrl, 'bench_ceiling');
  const ownDatabases = [db.name, ceilingDb.name];
  const provider = await startProviderStandIn();
  const receiver = await startEventReceiver();
  let service: Awaited<ReturnType<typeof startService>> | null = null;
  try {
    await ceilingDb.query(readFileSync(bench('ceiling-schema.sql'), 'utf8'));
    service = await startService({ root, databaseUrl: db.url, whatsappApiBaseUrl: provider.url, cpuProfileDir: process.env.BENCH_CPU_PROF ? bench('results') : undefined });
    const setup = await prepareLiveChats(service, { count: LIVE_CHATS, sendRate: SEND_RATE, features: FEATURES, receiverUrl: receiver.url });
    const target: ServiceUnderLoad = {
      service, db, provider, receiver, liveChats: setup.liveChats, script: bench('sessions.lua'),
      connections: CONNECTIONS, threads: Math.min(2, cpus().length), drainTimeoutSeconds: DRAIN_TIMEOUT_SECONDS, ownDatabases,
    };
    const pgbenchOptions = { clients: CONNECTIONS, defines: { live_chat_id: setup.liveChats[0]!.id }, ownDatabases };
    const ceiling = (seconds: number) => ceilingRound(ceilingDb, { ...pgbenchOptions, script: bench('ceiling-initiation.sql'), seconds });

    console.log(`npm run bench: ${ROUNDS} rounds of ${SECONDS} s, POST /sessions then the pgbench ceiling, after a ${WARMUP_SECONDS} s warm-up of each\n`);
    printTable([
      ['machine', await describeMachine(db)],
      ['load', `${CONNECTIONS} connections: wrk (${target.threads} threads, bench/sessions.lua), pgbench -c ${CONNECTIONS} -j 2 -M prepared`],
      ['live chats', `${LIVE_CHATS} × sendRatePerSecond ${SEND_RATE}: pacing allows ${whole(LIVE_CHATS * SEND_RATE)} messages/s in all`],
      [
        'features',
        FEATURES
          ? `on: 1 event subscription (every event, to a receiver on localhost); a synced template catalogue (${setup.templates} templates) checks every request`
          : 'off: no event subscription, no template catalogue; pacing stays on (it cannot be switched off)',
      ],
      ['ceiling', 'pgbench, bench/ceiling-initiation.sql: contact, session, message as one statement, scratch database'],
    ]);
    console.log();

    const warmup = await serviceRound(target, '0', WARMUP_SECONDS);
    console.log(`warm-up: ${whole(warmup.rate)} sessions/s, emptied: ${describeDrain(warmup.drain, DRAIN_TIMEOUT_SECONDS)}; ceiling ${whole((await ceiling(WARMUP_SECONDS)).tps)} tps`);
    if (warmup.failed) console.log(`!! warm-up: ${describeFailures(warmup)}`);
    if (!warmup.drain.drained) console.log(`!! warm-up: not drained ${DRAIN_TIMEOUT_SECONDS} s after the load: ${describeBacklog(warmup.drain.left)}`);

    const served: ServiceRound[] = [];
    const unsubscribed: ServiceRound[] = [];
    const ceilings: CeilingRound[] = [];
    let subscriptionId = setup.subscriptionId;
    const running = service;
    /**
     * The events' cost: the same load with no subscription (the log is still written, as it
     * always is). A new subscription afterwards starts from then, with nothing to catch up.
     */
    const roundWithoutSubscription = async (round: number): Promise<ServiceRound> => {
      await running.api('DELETE', `/event-subscriptions/${subscriptionId}`);
      const without = await serviceRound(target, String(ROUNDS + round), SECONDS);
      unsubscribed.push(without);
      if (without.failed) console.log(`!! round ${round} without the subscription: ${describeFailures(without)}`);
      if (!without.drain.drained) console.log(`!! round ${round} without the subscription: not drained ${DRAIN_TIMEOUT_SECONDS} s after the load: ${describeBacklog(without.drain.left)}`);
      subscriptionId = await subscribeReceiver(running, receiver.url);
      return without;
    };
    for (let round = 1; round <= ROUNDS; round++) {
      // With the subscription first in odd rounds and last in even ones, so that neither side
      // of the events' cost always runs in the same place of a round.
      const withoutFirst = subscriptionId !== null && round % 2 === 0;
      let without: ServiceRound | null = null;
      if (withoutFirst) without = await roundWithoutSubscription(round);
      const s = await serviceRound(target, String(round), SECONDS);
      served.push(s);
      if (s.failed) console.log(`!! round ${round}: ${describeFailures(s)}`);
      if (!s.drain.drained) console.log(`!! round ${round}: not drained ${DRAIN_TIMEOUT_SECONDS} s after the load: ${describeBacklog(s.drain.left)}`);
      if (subscriptionId && !withoutFirst) without = await roundWithoutSubscription(round);
      if (without) console.log(`round ${round} without the event subscription${withoutFirst ? ' (run first)' : ''}: ${whole(without.rate)} sessions/s (p99 ${ms(without.wrk.p99Ms)} ms)`);
      const c = await ceiling(SECONDS);
      ceilings.push(c);
      console.log(`round ${round}: ${whole(s.rate)} sessions/s (p99 ${ms(s.wrk.p99Ms)} ms), emptied: ${describeDrain(s.drain, DRAIN_TIMEOUT_SECONDS)}; ceiling ${whole(c.tps)} tps`);
      const elsewhere = s.commitsElsewhere + c.commitsElsewhere;
      if (elsewhere > 100) console.log(`!! round ${round}: other databases on the server committed ${whole(elsewhere)} transactions meanwhile: another load shared the machine`);
    }

    // The earlier measure, for comparison over time: three inserts in one transaction against the
    // service's own schema, with the service stopped.
    await service.stop();
    const threeStatements = await ceilingRound(db, { ...pgbenchOptions, script: bench('ceiling.sql'), seconds: SECONDS });

    report(served, ceilings, threeStatements, unsubscribed);
    if (process.env.BENCH_CPU_PROF) console.log(`\nCPU profile of the service in bench/results/ (npx tsx bench/profile-summary.ts <file>)`);
  } finally {
    await service?.stop();
    await provider.close();
    await receiver.close();
    await db.drop();
    await ceilingDb.drop();
  }
}

function describeFailures(s: ServiceRound): string {
  const { connect, read, write, timeout } = s.wrk.errors;
  return `${whole(s.failed)} requests did not answer 201: statuses ${JSON.stringify(s.wrk.otherStatuses)}, socket errors ${connect + read + write}, timeouts ${timeout}`;
}

function report(served: ServiceRound[], ceilings: CeilingRound[], threeStatements: CeilingRound, unsubscribed: ServiceRound[]): void {
  const features = unsubscribed.length > 0;
  const withoutRate = features ? median(unsubscribed.map((s) => s.rate)) : 0;
  const each = <T>(values: T[], cell: (v: T) => string) => values.map(cell);
  const medianRate = median(served.map((s) => s.rate));
  const medianTps = median(ceilings.map((c) => c.tps));
  const ratio = medianRate / medianTps;
  const p99 = median(served.map((s) => s.wrk.p99Ms));
  const seconds = (n: number | null) => (n === null ? `NO, ${DRAIN_TIMEOUT_SECONDS} s` : n.toFixed(1));
  const cpuRow = (label: string, value: (c: NonNullable<ServiceRound['cpu']>) => number) => [label, ...each(served, (s) => (s.cpu ? whole(value(s.cpu)) : 'no /proc'))];
  console.log();
  printTable([
    ['', ...served.map((_, i) => `round ${i + 1}`), 'median'],
    ['POST /sessions (sessions/s)', ...each(served, (s) => whole(s.rate)), whole(medianRate)],
    ['requests answered 201 / all', ...each(served, (s) => `${whole(s.wrk.created)} / ${whole(s.wrk.created + s.failed)}`)],
    ['latency p50 / p99 (ms)', ...each(served, (s) => `${ms(s.wrk.p50Ms)} / ${ms(s.wrk.p99Ms)}`), `p99 ${ms(p99)}`],
    ['201 → provider call p50 / p99 (ms)', ...each(served, (s) => `${ms(percentile(s.deliveryLags, 50))} / ${ms(percentile(s.deliveryLags, 99))}`)],
    ...(features
      ? [
          ['events received (per session)', ...each(served, (s) => `${whole(s.events.events)} (${(s.events.events / s.wrk.created).toFixed(2)})`)],
          ['event lag p50 / p99 (ms)', ...each(served, (s) => `${ms(percentile(s.events.lags, 50))} / ${ms(percentile(s.events.lags, 99))}`)],
        ]
      : []),
    ['busiest provider second of a chat', ...each(served, (s) => whole(s.busiestSecond))],
    ['at the end of the load: queued messages', ...each(served, (s) => whole(s.atStop.queuedMessages))],
    ['  events not yet sent to the subscription', ...each(served, (s) => whole(s.atStop.eventsBehind))],
    ['  pending event deliveries (retries)', ...each(served, (s) => whole(s.atStop.pendingDeliveries))],
    ['outbox empty after the load (s)', ...each(served, (s) => seconds(s.drain.outboxSeconds))],
    ['event deliveries done after the load (s)', ...each(served, (s) => seconds(s.drain.eventsSeconds))],
    cpuRow('CPU per session (µs): service', (c) => c.service),
    cpuRow('  Postgres (all its processes)', (c) => c.postgres),
    cpuRow('  wrk', (c) => c.loadGenerator),
    cpuRow('  stand-in and receiver', (c) => c.standIns),
    ['  available (cores × round time)', ...each(served, (s) => whole(((cpus().length * s.wrk.seconds) / s.wrk.created) * 1e6))],
    ['  after the load: service / Postgres', ...each(served, (s) => (s.cpuAfterLoad ? `${whole(s.cpuAfterLoad.service)} / ${whole(s.cpuAfterLoad.postgres)}` : '-'))],
    ['Postgres commits per session', ...each(served, (s) => s.commitsPerSession.toFixed(3))],
    ['ceiling (pgbench tps)', ...each(ceilings, (c) => whole(c.tps)), whole(medianTps)],
    ['ceiling CPU µs/tx: Postgres / pgbench', ...each(ceilings, (c) => (c.cpu ? `${whole(c.cpu.postgres)} / ${whole(c.cpu.loadGenerator)}` : 'no /proc'))],
    ['ratio (sessions/s ÷ tps)', ...served.map((s, i) => (s.rate / ceilings[i]!.tps).toFixed(2)), ratio.toFixed(2)],
    ...(features
      ? [
          ['without the subscription (sessions/s)', ...each(unsubscribed, (s) => whole(s.rate)), whole(withoutRate)],
          ['  latency p50 / p99 (ms)', ...each(unsubscribed, (s) => `${ms(s.wrk.p50Ms)} / ${ms(s.wrk.p99Ms)}`)],
          ['  CPU per session: service / Postgres', ...each(unsubscribed, (s) => (s.cpu ? `${whole(s.cpu.service)} / ${whole(s.cpu.postgres)}` : 'no /proc'))],
        ]
      : []),
  ]);
  if (features) {
    console.log(
      `\nthe events' cost: with the subscription ${whole(medianRate)} sessions/s, without it ${whole(withoutRate)}: ` +
        `${(medianRate / withoutRate).toFixed(2)} of the throughput (target ≥ 0.85)`,
    );
  }
  console.log(
    `\nfor comparison: three inserts in one transaction on the service's schema (bench/ceiling.sql, service stopped): ` +
      `${whole(threeStatements.tps)} tps; median sessions/s ÷ it: ${(medianRate / threeStatements.tps).toFixed(2)}`,
  );

  const problems: string[] = [];
  const failed = [...served, ...unsubscribed].reduce((n, s) => n + s.failed, 0);
  if (failed > 0) problems.push(`${whole(failed)} requests did not answer 201`);
  const labelled = [
    ...served.map((s, i) => [`round ${i + 1}`, s] as const),
    ...unsubscribed.map((s, i) => [`round ${i + 1} without the subscription`, s] as const),
  ];
  for (const [label, s] of labelled) {
    if (!s.drain.drained) problems.push(`${label} did not drain within ${DRAIN_TIMEOUT_SECONDS} s (${describeBacklog(s.drain.left)})`);
    else if (s.undelivered > 0) problems.push(`${label}: ${whole(s.undelivered)} sessions' messages never reached the provider`);
  }
  const pass = problems.length === 0 && ratio >= TARGET_RATIO && p99 <= TARGET_P99_MS;
  console.log(`\nratio ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO.toFixed(2)}), p99 ${ms(p99)} ms (target ≤ ${TARGET_P99_MS} ms)`);
  for (const problem of problems) console.log(`!! ${problem}`);
  console.log(pass ? 'PASS' : 'BELOW TARGET');
  if (problems.length > 0) process.exitCode = 1;
}

await main();
