/**
 * npm run bench:batch — one POST /session-batches with 10,000 people on Postgres: how long the
 * 202 takes, how fast the batch worker creates the sessions (202 → batch `done`), whether every
 * recipient was created, and whether their messages kept to the live chat's sendRatePerSecond
 * (set below the rate the service sends at unpaced, about 600 messages/s here, so that pacing
 * binds and the check can fail).
 * Beside it, for comparison, a short round of POST /sessions by wrk on the same service (skipped
 * when wrk is not installed). Needs DATABASE_URL (a server where it may create and drop a
 * scratch database).
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:batch
 *
 * Options (environment): BENCH_BATCH_RECIPIENTS (1–10,000; 10,000), BENCH_SEND_RATE (the batch's
 * live chat's sendRatePerSecond, 200), BENCH_SECONDS (the POST /sessions round, 10),
 * BENCH_WARMUP_SECONDS (5), BENCH_LIVE_CHATS (that round's live chats, 4, each at
 * sendRatePerSecond 1000 as in npm run bench; the batch goes to the first, set to
 * BENCH_SEND_RATE after the round), BENCH_FEATURES (on/off, as for npm run bench),
 * BENCH_DRAIN_TIMEOUT_SECONDS (60, or the batch's sending time at BENCH_SEND_RATE and 30 s more
 * if that is longer), BENCH_BATCH_TIMEOUT_SECONDS (300).
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describeBacklog, describeDrain, waitForDrain } from './support/backlog.js';
import { cpuPerUnit, readCpu } from './support/cpu.js';
import { startEventReceiver } from './support/event-receiver.js';
import { OPERATOR_ID, prepareLiveChats } from './support/live-chats.js';
import { startProviderStandIn } from './support/provider-stand-in.js';
import { type ServiceRound, serviceRound } from './support/rounds.js';
import { ScratchDatabase } from './support/scratch-database.js';
import { buildService, startService } from './support/service-process.js';
import { describeMachine, featuresSetting, intSetting, printTable, serverUrlSetting } from './support/settings.js';
import { ms, percentile, sleep, wallClockMs, whole } from './support/stats.js';

const serverUrl = serverUrlSetting('npm run bench:batch');
const RECIPIENTS = intSetting('BENCH_BATCH_RECIPIENTS', 10_000, 1, 10_000);
/** The batch's live chat's sendRatePerSecond: below the ~600 messages/s the service sends unpaced here, so that pacing binds. */
const SEND_RATE = intSetting('BENCH_SEND_RATE', 200, 1, 1000);
/** The POST /sessions round's live chats' sendRatePerSecond, as npm run bench's: pacing does not bind there. */
const ROUND_SEND_RATE = 1000;
const SECONDS = intSetting('BENCH_SECONDS', 10, 3, 60);
const WARMUP_SECONDS = intSetting('BENCH_WARMUP_SECONDS', 5, 1, 60);
const LIVE_CHATS = intSetting('BENCH_LIVE_CHATS', 4, 1, 50);
// The batch's messages go out at SEND_RATE: the drain after it may take up to all of their sending time.
const DRAIN_TIMEOUT_SECONDS = intSetting('BENCH_DRAIN_TIMEOUT_SECONDS', Math.max(60, Math.ceil(RECIPIENTS / SEND_RATE) + 30), 5, 3600);
const BATCH_TIMEOUT_SECONDS = intSetting('BENCH_BATCH_TIMEOUT_SECONDS', 300, 10, 3600);
const FEATURES = featuresSetting();
const CONNECTIONS = 32;
const WRK = (spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error as NodeJS.ErrnoException | undefined)?.code !== 'ENOENT';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The batch's people: German mobile numbers under +49152 (the wrk rounds use +49151), one each. */
const phoneOf = (index: number) => `+49152${10_000_000 + index}`;

interface Batch {
  id: string;
  status: 'running' | 'done' | 'canceled';
  total: number;
  counts: { pending: number; created: number; refused: number; canceled: number };
  createdAt: string;
  finishedAt: string | null;
}

async function main(): Promise<void> {
  buildService(root);
  const db = await ScratchDatabase.create(serverUrl, 'bench_batch');
  const provider = await startProviderStandIn();
  const receiver = await startEventReceiver();
  let service: Awaited<ReturnType<typeof startService>> | null = null;
  try {
    service = await startService({ root, databaseUrl: db.url, whatsappApiBaseUrl: provider.url });
    const setup = await prepareLiveChats(service, { count: LIVE_CHATS, sendRate: ROUND_SEND_RATE, features: FEATURES, receiverUrl: receiver.url });
    const chat = setup.liveChats[0]!;
    console.log(`npm run bench:batch: one batch of ${whole(RECIPIENTS)} people${WRK ? `, after a ${SECONDS} s round of POST /sessions for comparison` : ''}\n`);
    printTable([
      ['machine', await describeMachine(db)],
      ['live chats', `${LIVE_CHATS} × sendRatePerSecond ${ROUND_SEND_RATE}; the batch goes to the first, at sendRatePerSecond ${SEND_RATE}`],
      ['features', FEATURES ? `on: 1 event subscription, a synced template catalogue (${setup.templates} templates)` : 'off: no event subscription, no template catalogue; pacing stays on'],
    ]);
    console.log();

    let sessionsRound: ServiceRound | null = null;
    if (WRK) {
      const target = {
        service, db, provider, receiver, liveChats: setup.liveChats, script: `${root}bench/sessions.lua`,
        connections: CONNECTIONS, threads: Math.min(2, cpus().length), drainTimeoutSeconds: DRAIN_TIMEOUT_SECONDS, ownDatabases: [db.name],
      };
      await serviceRound(target, '0', WARMUP_SECONDS);
      sessionsRound = await serviceRound(target, '1', SECONDS);
      console.log(`POST /sessions by wrk, ${CONNECTIONS} connections, ${SECONDS} s: ${whole(sessionsRound.rate)} sessions/s, ` +
        `${whole(sessionsRound.wrk.created)} of ${whole(sessionsRound.wrk.created + sessionsRound.failed)} answered 201; emptied: ${describeDrain(sessionsRound.drain, DRAIN_TIMEOUT_SECONDS)}`);
    } else {
      console.log('wrk is not installed (apt-get install wrk): no POST /sessions round to compare with');
    }

    await service.api('PATCH', `/live-chats/${chat.id}`, { channel: { sendRatePerSecond: SEND_RATE } });
    const body = {
      liveChatId: chat.id,
      operatorId: OPERATOR_ID,
      message: { template: { name: 'order_update', language: 'en_US', parameters: ['Bench'] } },
      recipients: Array.from({ length: RECIPIENTS }, (_, i) => ({ contact: { name: `Batch Person ${i}`, phones: [phoneOf(i)] }, account: phoneOf(i), reference: `bench-${i}` })),
    };
    const cpuBefore = readCpu(service.pid);
    const postedAt = wallClockMs();
    let batch = (await service.api('POST', '/session-batches', body)) as Batch;
    const acceptedAt = wallClockMs();
    const deadline = acceptedAt + BATCH_TIMEOUT_SECONDS * 1000;
    while (batch.status === 'running' && wallClockMs() < deadline) {
      await sleep(250); // the batch's finishedAt says when it ended; looking more often only costs the database
      batch = (await service.api('GET', `/session-batches/${batch.id}`)) as Batch;
    }
    const cpuAfter = readCpu(service.pid);
    const finishedAt = batch.finishedAt ? Date.parse(batch.finishedAt) : wallClockMs();
    const batchRate = batch.counts.created / ((finishedAt - acceptedAt) / 1000);
    const refused = batch.counts.refused > 0 ? (await service.api('GET', `/session-batches/${batch.id}/recipients?outcome=refused&limit=5`)).items : [];
    const drain = await waitForDrain(db, DRAIN_TIMEOUT_SECONDS);

    const arrivals = Array.from({ length: RECIPIENTS }, (_, i) => provider.arrivals.get(phoneOf(i).slice(1))).filter((t): t is number => t !== undefined);
    const firstSent = Math.min(...arrivals);
    const lastSent = Math.max(...arrivals);
    const busiest = provider.busiestSecond(chat.phoneNumberId, postedAt);
    const perSession = cpuPerUnit(cpuBefore, cpuAfter, batch.counts.created);
    const toProvider = arrivals.map((t) => t - acceptedAt);
    // No second above the rate (one more where a second's edge meets a slot). That shows pacing
    // only if it bound: with more messages than the rate allows in a second, and a service that
    // sends faster unpaced, the busiest second reaches the rate (a slot missed now and then aside).
    const paced = busiest <= SEND_RATE + 1;
    const bound = busiest >= Math.floor(SEND_RATE * 0.95);
    const canBind = RECIPIENTS > SEND_RATE;

    console.log();
    printTable([
      ['POST /session-batches → 202', `${ms(acceptedAt - postedAt)} ms (${whole(RECIPIENTS)} recipients, ${(JSON.stringify(body).length / 2 ** 20).toFixed(1)} MB)`],
      ['202 → batch done', batch.status === 'running' ? `NOT DONE after ${BATCH_TIMEOUT_SECONDS} s` : `${((finishedAt - acceptedAt) / 1000).toFixed(2)} s, status ${batch.status}`],
      ['sessions created by the batch worker', `${whole(batchRate)} sessions/s`],
      ...(sessionsRound ? [['POST /sessions (wrk, for comparison)', `${whole(sessionsRound.rate)} sessions/s (batch ÷ it: ${(batchRate / sessionsRound.rate).toFixed(2)})`]] : []),
      ['recipients created / refused / all', `${whole(batch.counts.created)} / ${whole(batch.counts.refused)} / ${whole(batch.total)}`],
      ['CPU µs/session: service / postgres', perSession ? `${whole(perSession.service)} / ${whole(perSession.postgres)}` : 'no /proc'],
      ['messages at the provider', `${whole(arrivals.length)} of ${whole(RECIPIENTS)}, over ${((lastSent - firstSent) / 1000).toFixed(1)} s (${whole(arrivals.length / ((lastSent - firstSent) / 1000))} messages/s)`],
      ['202 → provider call p50 / p99 / last', `${ms(percentile(toProvider, 50))} / ${ms(percentile(toProvider, 99))} / ${ms(Math.max(...toProvider))} ms`],
      ['busiest provider second', `${whole(busiest)} messages (sendRatePerSecond ${SEND_RATE}): ${!paced ? 'ABOVE THE RATE' : bound ? 'pacing followed' : 'below the rate: pacing not put to the test'}`],
      ['emptied after the batch was done', `${describeDrain(drain, DRAIN_TIMEOUT_SECONDS)}${drain.drained ? '' : ` (left: ${describeBacklog(drain.left)})`}`],
    ]);
    for (const r of refused) console.log(`!! refused: recipient ${r.index} (${r.account}): ${r.error?.status} ${r.error?.code} ${r.error?.detail}`);

    const problems = [
      ...(batch.counts.created === RECIPIENTS ? [] : [`${whole(RECIPIENTS - batch.counts.created)} recipients were not created`]),
      ...(arrivals.length === RECIPIENTS ? [] : [`${whole(RECIPIENTS - arrivals.length)} messages never reached the provider`]),
      ...(paced ? [] : [`a second with ${busiest} sends, above sendRatePerSecond ${SEND_RATE}`]),
      ...(bound || !canBind ? [] : [`no second reached sendRatePerSecond ${SEND_RATE} (busiest: ${busiest}): pacing did not bind, so this run does not show it is followed (lower BENCH_SEND_RATE)`]),
      ...(drain.drained ? [] : ['the outbox or the event deliveries did not drain']),
      ...(sessionsRound && sessionsRound.failed > 0 ? [`${whole(sessionsRound.failed)} POST /sessions requests did not answer 201`] : []),
    ];
    console.log();
    for (const problem of problems) console.log(`!! ${problem}`);
    const pacing = bound ? `pacing followed at ${SEND_RATE} messages/s` : `no second above ${SEND_RATE} messages/s, but pacing not put to the test (${whole(RECIPIENTS)} recipients)`;
    console.log(problems.length === 0 ? `OK: every recipient created, every message sent, ${pacing}` : 'FAILED');
    if (problems.length > 0) process.exitCode = 1;
  } finally {
    await service?.stop();
    await provider.close();
    await receiver.close();
    await db.drop();
  }
}

await main();
