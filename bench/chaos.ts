/**
 * Exactly once under failure, at bench size: the larger version of
 * test/integration/exactly-once-chaos.test.ts, on the real stack.
 *
 * About --events valid events over --partitions partitions feed both rollups
 * (cpu-mem-5min: max in ClickHouse; proc-totals-5min: count/sum/min/avg in
 * MySQL). The workload is produced in 8 chunks, and between and during them:
 *
 *   - --kills SIGKILLs of random aggregator processes at random moments
 *     (during a chunk's production; the killed process is replaced at once),
 *   - a rebalance 1 → 3 processes for both rollups, later 3 → 1 (SIGTERM),
 *   - a ClickHouse restart (scripts/stack.sh restart clickhouse),
 *   - a Kafka broker restart (scripts/stack.sh restart kafka): the aggregator
 *     processes must ride it out on their own; one that exits is a failure.
 *
 * Then it waits until both rollups hold every valid event with every closed
 * window final, and compares them row for row with ClickHouse's and MySQL's own
 * GROUP BY over the raw events, and checks the dead-letter topic, exactly as the
 * test does. PASS exits 0, FAIL 1, an error or the overall deadline 2.
 *
 * Figures: wall time, catch-up time (last event produced → settled), and
 * end-to-end aggregator throughput (every message on the topic / time from the
 * first event produced to settled, failures included) as a ratio against a
 * baseline measured in the same run: a plain kafkajs consumer (new group,
 * no-op eachBatch, same fetch concurrency as rollgate's) reading the whole
 * topic from the beginning after the run.
 *
 * Run: npm run build && npm run bench:chaos -- [--events 1000000] [--partitions 6]
 *        [--kills 6] [--seed 1] [--idle-ms 2000] [--timeout-min 20] [--log-dir DIR]
 * --idle-ms is the aggregators' AGGREGATOR_IDLE_MS: 2000 as in the test (ChaosStack's
 * flushMs 500 / idleMs 2000); the production default is 30000.
 * Uses KAFKA_BROKERS, CLICKHOUSE_URL, MYSQL_URL and REDIS_URL when set, else
 * runs `scripts/stack.sh up`. Restarts the shared Kafka and ClickHouse once each.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ChaosStack, buildWorkload, keyed } from '../test/helpers/chaos.js';
import { seeded } from '../test/helpers/events.js';
import type { RollgateProcess } from '../test/helpers/rollgate-process.js';
import { stackEnv } from '../test/helpers/stack.js';
import { readWholeTopic, withTimeout } from './kafka-read.js';
import { ensureStackEnv, stackSh } from './stack-env.js';

const DAY = 86_400_000;
const CHUNKS = 8;
/** No change in either store for this long while waiting to settle: stop waiting, it will not settle. */
const STALL_MS = 180_000;
const ROLLUPS = ['cpu-mem-5min', 'proc-totals-5min'] as const;
type Rollup = (typeof ROLLUPS)[number];

// ---------------------------------------------------------------- arguments

const { values: opts } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '6' },
    kills: { type: 'string', default: '6' },
    seed: { type: 'string', default: '1' },
    'timeout-min': { type: 'string', default: '20' },
    'idle-ms': { type: 'string', default: '2000' },
    'log-dir': { type: 'string' },
  },
});

function intArg(text: string, what: string, min: number): number {
  const n = Number(text.replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${what}: expected an integer ≥ ${min}, got ${JSON.stringify(text)}`);
  return n;
}

const targetEvents = intArg(opts.events, '--events', 10_000);
const partitions = intArg(opts.partitions, '--partitions', 1);
const kills = intArg(opts.kills, '--kills', 0);
const seed = intArg(opts.seed, '--seed', 0);
const timeoutMs = intArg(opts['timeout-min'], '--timeout-min', 1) * 60_000;
/** AGGREGATOR_IDLE_MS of the aggregators: 2000 like the test (ChaosStack's default); the production default is 30000. */
const idleMs = intArg(opts['idle-ms'], '--idle-ms', 1);

// ---------------------------------------------------------------- small helpers

const t0 = performance.now();
const elapsed = () => ((performance.now() - t0) / 1000).toFixed(1).padStart(6);
const say = (text: string) => console.log(`[${elapsed()} s] ${text}`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const random = seeded(seed * 7919 + 17);
const between = (min: number, max: number) => min + random() * (max - min);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

// ---------------------------------------------------------------- aggregator processes

interface Aggregator {
  id: number;
  rollup: Rollup;
  proc: RollgateProcess;
  /** Set before we stop it: any other exit is the process giving up on its own. */
  stopping: boolean;
  exit: string | undefined;
}

const failures: string[] = [];
const aggregators: Aggregator[] = [];
const live = (rollup?: Rollup) => aggregators.filter((a) => a.exit === undefined && !a.stopping && (rollup === undefined || a.rollup === rollup));

function startAggregator(chaos: ChaosStack, rollup: Rollup): Aggregator {
  const a: Aggregator = { id: aggregators.length + 1, rollup, proc: chaos.aggregator(rollup), stopping: false, exit: undefined };
  aggregators.push(a);
  a.proc.child.once('exit', (code, signal) => {
    a.exit = signal ?? `exit ${code}`;
    if (!a.stopping) {
      const msg = `aggregator #${a.id} (${rollup}) exited on its own (${a.exit})`;
      failures.push(msg);
      say(`!! ${msg}; last output:\n${tail(a.proc.output(), 12)}`);
    }
  });
  return a;
}

function tail(text: string, lines: number): string {
  return text
    .trimEnd()
    .split('\n')
    .slice(-lines)
    .map((l) => `     | ${l.length > 400 ? `${l.slice(0, 400)}…` : l}`)
    .join('\n');
}

/** The CLI prints this line once the runner has started (store table ensured, consumer subscribed). */
async function started(a: Aggregator, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!a.proc.output().includes('health and metrics on')) {
    if (a.exit !== undefined) return; // reported by the exit handler
    if (Date.now() > deadline) throw new Error(`aggregator #${a.id} (${a.rollup}) did not start within ${ms / 1000} s:\n${tail(a.proc.output(), 20)}`);
    await sleep(100);
  }
}

const allStarted = () => Promise.all(live().map((a) => started(a)));

async function stopAggregator(a: Aggregator, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  a.stopping = true;
  if (signal === 'SIGKILL') {
    await a.proc.stop('SIGKILL');
    return;
  }
  try {
    const code = await withTimeout(`SIGTERM of aggregator #${a.id}`, 60_000, a.proc.stop('SIGTERM'));
    if (code !== 0) failures.push(`aggregator #${a.id} (${a.rollup}) exited with ${code} after SIGTERM`);
  } catch (err) {
    failures.push(`aggregator #${a.id} (${a.rollup}): ${(err as Error).message}; SIGKILLed`);
    await a.proc.stop('SIGKILL');
  }
}

/** SIGKILLs a random live aggregator of either rollup and starts its replacement. */
async function killOne(chaos: ChaosStack, n: number): Promise<void> {
  const candidates = live();
  const victim = candidates[Math.floor(random() * candidates.length)];
  if (victim === undefined) return;
  const before = live(victim.rollup).length;
  await stopAggregator(victim, 'SIGKILL');
  const next = startAggregator(chaos, victim.rollup);
  say(`kill ${n}/${kills}: SIGKILL aggregator #${victim.id} (${victim.rollup}, 1 of ${before}); replacement #${next.id}`);
}

/** The live process's own counters (they restart with each process) and its readiness: what it saw and whether it is stuck. */
async function describeAggregator(a: Aggregator): Promise<string> {
  const url = /health and metrics on (\S+)\/metrics/.exec(a.proc.output())?.[1];
  if (url === undefined) return `#${a.id} ${a.rollup}: no metrics URL`;
  const get = async (p: string) => {
    const res = await fetch(`${url}${p}`, { signal: AbortSignal.timeout(5000) });
    return res.text();
  };
  try {
    const [metrics, ready] = await Promise.all([get('/metrics'), get('/readyz')]);
    const sum = (name: string) =>
      [...metrics.matchAll(new RegExp(`^rollgate_${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    const status = (JSON.parse(ready) as { status?: string }).status ?? '?';
    return (
      `#${a.id} ${a.rollup}: ${fmt(sum('events_in_total'))} in, ${fmt(sum('events_late_total'))} late, ${fmt(sum('dead_letters_total'))} dead-lettered, ` +
      `${sum('sink_write_errors_total')} write errors, waiting for store ${sum('aggregator_waiting_for_sink')}, ${status}`
    );
  } catch (err) {
    return `#${a.id} ${a.rollup}: metrics unavailable (${String(err)})`;
  }
}

// ---------------------------------------------------------------- the run

let chaosRef: ChaosStack | undefined;
let deadlineHit = false;
const parked = new Promise<never>(() => undefined);
let finalCleanup: Promise<void> | undefined;
const logDir = opts['log-dir'] ?? path.join(os.tmpdir(), `rollgate-bench-chaos-${Date.now().toString(36)}`);

/** Kills what we started, drops the namespace, keeps the aggregator logs, and makes sure the stack is up. Once. */
function cleanupOnce(): Promise<void> {
  finalCleanup ??= (async () => {
    for (const a of aggregators) a.stopping = true;
    try {
      mkdirSync(logDir, { recursive: true });
      for (const a of aggregators) writeFileSync(path.join(logDir, `${String(a.id).padStart(2, '0')}-${a.rollup}.log`), a.proc.output());
    } catch (err) {
      console.error(`could not write aggregator logs: ${String(err)}`);
    }
    if (chaosRef !== undefined) {
      await withTimeout('ChaosStack.cleanup', 120_000, chaosRef.cleanup()).catch((err: unknown) => console.error(`cleanup: ${String(err)}`));
    }
    await withTimeout('stack.sh up', 300_000, stackSh(['up'], false)).catch((err: unknown) => console.error(`stack.sh up at the end failed: ${String(err)}`));
  })();
  return finalCleanup;
}

function diff(name: string, oracle: string[], rollup: string[]): string[] {
  const count = (lines: string[]) => lines.reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>());
  const o = count(oracle);
  const r = count(rollup);
  const missing = oracle.filter((l) => (r.get(l) ?? 0) < (o.get(l) ?? 0));
  const extra = rollup.filter((l) => (o.get(l) ?? 0) < (r.get(l) ?? 0));
  if (missing.length === 0 && extra.length === 0 && oracle.length === rollup.length) return [];
  return [
    `${name}: ${rollup.length} rollup rows vs ${oracle.length} oracle rows; ${missing.length} oracle lines missing from the rollup, ${extra.length} rollup lines not in the oracle`,
    ...missing.slice(0, 8).map((l) => `  - oracle  ${l}`),
    ...extra.slice(0, 8).map((l) => `  + rollup  ${l}`),
  ];
}

async function main(): Promise<boolean> {
  await ensureStackEnv(say);
  const stack = stackEnv();
  const brokers = stack.KAFKA_BROKERS.split(',');
  const chaos = new ChaosStack(stack, 500, idleMs);
  chaosRef = chaos;

  // Workload: 20 windows of 5 minutes with 50 samples per window and series, so n / 1000 series.
  const windows = 20;
  const perWindow = 50;
  const series = Math.max(partitions, Math.round(targetEvents / (windows * perWindow)));
  const workload = buildWorkload({ seed, series, windows, perWindow, startMs: Math.floor(Date.now() / DAY) * DAY - DAY + 6 * 3600_000 });
  const { valid, late, bad } = workload;
  const totalMessages = valid.length + late.length + bad.length;
  say(
    `workload: ${fmt(valid.length)} valid + ${late.length} late + ${bad.length} bad events; ${series} series × ${windows} windows × ${perWindow}/window; ` +
      `${partitions} partitions, ${kills} kills, seed ${seed}, AGGREGATOR_IDLE_MS ${idleMs}; namespace ${chaos.prefix}`,
  );

  await chaos.createTopic(partitions);
  // The oracles' raw tables are loaded first, so the load neither competes with the aggregators nor meets the ClickHouse restart.
  const rawStart = performance.now();
  await chaos.loadRaw(valid);
  say(`oracle raw tables loaded in ${((performance.now() - rawStart) / 1000).toFixed(1)} s`);

  const size = Math.ceil(valid.length / CHUNKS);
  const chunks: Array<Array<{ key: string | null; value: string }>> = Array.from({ length: CHUNKS }, (_, i) => valid.slice(i * size, (i + 1) * size).map(keyed));
  chunks[0]!.push(...bad.map(({ key, value }) => ({ key, value })));
  // Kills: a random chunk each, at a random moment of its production.
  const killPlan = Array.from({ length: kills }, () => ({ chunk: Math.floor(random() * CHUNKS), delayMs: between(300, 4000) })).sort(
    (a, b) => a.chunk - b.chunk || a.delayMs - b.delayMs,
  );
  let killed = 0;
  const timings: Record<string, number> = {};

  const produceChunk = async (i: number) => {
    const planned = killPlan.filter((k) => k.chunk === i);
    const killing = (async () => {
      let waited = 0;
      for (const k of planned) {
        await sleep(k.delayMs - waited);
        waited = k.delayMs;
        await killOne(chaos, ++killed);
      }
    })();
    const chunkStart = performance.now();
    await Promise.all([chaos.produce(chunks[i]!), killing]);
    say(`chunk ${i + 1}/${CHUNKS}: ${fmt(chunks[i]!.length)} messages produced in ${((performance.now() - chunkStart) / 1000).toFixed(1)} s`);
  };

  const restart = async (service: 'kafka' | 'clickhouse') => {
    await allStarted(); // a process starting while its service is down gives up by design ("start failed")
    const restartStart = performance.now();
    say(`restarting ${service} (scripts/stack.sh restart ${service})`);
    await stackSh(['restart', service], false);
    timings[`${service} restart`] = (performance.now() - restartStart) / 1000;
    say(`${service} back after ${timings[`${service} restart`]!.toFixed(1)} s; ${live().length} aggregators alive`);
  };

  for (const r of ROLLUPS) startAggregator(chaos, r);
  const firstProduced = performance.now();

  await produceChunk(0);
  await produceChunk(1);
  for (const r of ROLLUPS) for (let k = 0; k < 2; k++) startAggregator(chaos, r);
  say(`rebalance 1 → 3: ${ROLLUPS.map((r) => `${r} ×${live(r).length}`).join(', ')}`);
  await sleep(between(2000, 4000));
  await produceChunk(2);
  await produceChunk(3);
  await restart('clickhouse');
  await produceChunk(4);
  await allStarted();
  // Rebalance 3 → 1: all but the oldest live process of each rollup leave cleanly.
  await Promise.all(ROLLUPS.flatMap((r) => live(r).slice(1)).map((a) => stopAggregator(a, 'SIGTERM')));
  say(`rebalance 3 → 1: ${ROLLUPS.map((r) => `${r} ×${live(r).length}`).join(', ')}`);
  await produceChunk(5);
  await restart('kafka');
  await produceChunk(6); // ChaosStack.produce connects per call: this one meets the restarted broker
  await produceChunk(7);
  await chaos.produce(late.map(keyed));
  const lastProduced = performance.now();
  say(`last event produced (${fmt(totalMessages)} messages in all); waiting until settled`);

  // Settled: every valid event folded and every closed window final, in both stores (cheap probes, not the oracles).
  const expectedFinal = series * windows;
  const probe = async () => {
    const [[c], [t]] = await Promise.all([
      chaos.chRows<{ n: string; f: string }>(`SELECT sum(samples) AS n, countIf(final = 1) AS f FROM ${chaos.database}.cpu_mem_5min FINAL`),
      chaos.mysqlRows(`SELECT COALESCE(SUM(samples), 0) AS n, COALESCE(SUM(final = 1), 0) AS f FROM \`${chaos.database}\`.proc_totals_5min`),
    ]);
    return { cpu: [Number(c?.n), Number(c?.f)], totals: [Number(t?.['n']), Number(t?.['f'])] };
  };
  const settleBudget = Math.max(60_000, Math.min(900_000, timeoutMs - (performance.now() - t0) - 180_000));
  const settleDeadline = performance.now() + settleBudget;
  let last = { cpu: [0, 0], totals: [0, 0] };
  let lastReport = 0;
  let lastChange = performance.now();
  let settledAt: number | undefined;
  while (performance.now() < settleDeadline) {
    if (deadlineHit) await parked; // the deadline handler is cleaning up and will exit
    const now = await probe().catch(() => last);
    if (JSON.stringify(now) !== JSON.stringify(last)) lastChange = performance.now();
    last = now;
    if (last.cpu[0] === valid.length && last.totals[0] === valid.length && last.cpu[1] === expectedFinal && last.totals[1] === expectedFinal) {
      settledAt = performance.now();
      break;
    }
    if (performance.now() - lastChange > STALL_MS) break;
    if (performance.now() - lastReport > 15_000) {
      lastReport = performance.now();
      say(`  not settled: cpu-mem ${fmt(last.cpu[0]!)} samples / ${fmt(last.cpu[1]!)} final; proc-totals ${fmt(last.totals[0]!)} / ${fmt(last.totals[1]!)} (want ${fmt(valid.length)} / ${fmt(expectedFinal)})`);
    }
    await sleep(250);
  }
  if (settledAt === undefined) {
    const why = performance.now() - lastChange > STALL_MS ? `stalled: no progress in either store for ${STALL_MS / 1000} s` : `not settled after ${settleBudget / 1000} s`;
    failures.push(`${why} (cpu-mem ${last.cpu[0]} samples / ${last.cpu[1]} final, proc-totals ${last.totals[0]} / ${last.totals[1]}; want ${valid.length} / ${expectedFinal})`);
  }
  const diagnostics = await Promise.all(live().map((a) => describeAggregator(a)));
  const settled = settledAt ?? performance.now();
  say(settledAt === undefined ? 'NOT settled; comparing anyway' : 'settled; comparing with the oracles');

  // The comparisons of the test, row for row.
  const problems: string[] = [];
  const cpuMem = await chaos.cpuMem();
  if (cpuMem.samples !== valid.length || cpuMem.finalRows !== expectedFinal) {
    problems.push(`cpu-mem-5min: ${cpuMem.samples} samples / ${cpuMem.finalRows} final rows, want ${valid.length} / ${expectedFinal}`);
  }
  if (cpuMem.oracle.length !== series * (windows + 1)) problems.push(`cpu-mem-5min oracle has ${cpuMem.oracle.length} rows, want ${series * (windows + 1)}`);
  problems.push(...diff('cpu-mem-5min vs ClickHouse GROUP BY', cpuMem.oracle, cpuMem.rollup));
  const procTotals = await chaos.procTotals();
  if (procTotals.samples !== valid.length || procTotals.finalRows !== expectedFinal) {
    problems.push(`proc-totals-5min: ${procTotals.samples} samples / ${procTotals.finalRows} final rows, want ${valid.length} / ${expectedFinal}`);
  }
  problems.push(...diff('proc-totals-5min vs MySQL GROUP BY', procTotals.oracle, procTotals.rollup));

  // Dead letters: every bad message at least once (INVALID_EVENT, with a reason), every late one at least once per rollup.
  const dead: Array<{ value: string; code: string; reason: string }> = [];
  await readWholeTopic(brokers, `${chaos.topic}.dlq`, `${chaos.prefix}bench-dlq`, (m) =>
    dead.push({ value: m.value, code: m.headers['rollgate-error'] ?? '', reason: m.headers['rollgate-reason'] ?? '' }),
  );
  const expectedDead = ROLLUPS.length * (bad.length + late.length);
  for (const b of bad) {
    const letters = dead.filter((d) => d.value === b.value);
    if (letters.length < 1) problems.push(`no dead letter for bad message (${b.reason}): ${b.value.slice(0, 60)}`);
    if (!letters.every((d) => d.code === 'INVALID_EVENT' && d.reason.length > 0)) problems.push(`dead letter for ${b.reason} has code/reason ${JSON.stringify(letters.map((d) => [d.code, d.reason]))}`);
  }
  for (const l of late) {
    const value = JSON.stringify(l);
    const letters = dead.filter((d) => d.value === value);
    if (letters.length < ROLLUPS.length) problems.push(`late event dead-lettered ${letters.length} times, want ≥ ${ROLLUPS.length}: ${value.slice(0, 60)}`);
    if (!letters.every((d) => d.code === 'LATE_EVENT')) problems.push(`late event dead letter with code ${JSON.stringify(letters.map((d) => d.code))}`);
  }
  const alive = live();
  const aliveAtEnd = `${alive.length} alive at the end (${ROLLUPS.map((r) => `${r} ×${live(r).length}`).join(', ')})`;

  // Baseline in the same run: a plain kafkajs consumer over the same topic.
  say('baseline: no-op kafkajs consumer reading the whole topic');
  const baseline = await readWholeTopic(brokers, chaos.topic, `${chaos.prefix}bench-noop-baseline`);

  const e2eSeconds = (settled - firstProduced) / 1000;
  const rollgateRate = totalMessages / e2eSeconds;
  const baselineRate = baseline.messages / baseline.seconds;
  const errorLines = aggregators.map((a) => a.proc.output().split('\n').filter((l) => /"level":(50|60)/.test(l)).length);
  const warnLines = aggregators.map((a) => a.proc.output().split('\n').filter((l) => /"level":40/.test(l)).length);

  console.log('');
  console.log(`bench:chaos  events ${fmt(valid.length)} valid (+${late.length} late, +${bad.length} bad) · ${partitions} partitions · ${kills} kills · seed ${seed} · idle ${idleMs} ms · ${os.cpus().length} CPUs`);
  console.log(`  wall time                                       ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`  first event produced → last produced            ${((lastProduced - firstProduced) / 1000).toFixed(1)} s`);
  console.log(`  catch-up (last event produced → settled)        ${((settled - lastProduced) / 1000).toFixed(1)} s${settledAt === undefined ? ' (NOT settled)' : ''}`);
  for (const [k, v] of Object.entries(timings)) console.log(`  ${`${k} (stack.sh)`.padEnd(48)}${v.toFixed(1)} s`);
  const na = settledAt === undefined ? ' — not settled: not a throughput' : '';
  console.log(`  events/s rollgate (end-to-end, with failures)   ${fmt(rollgateRate)}  (${fmt(totalMessages)} messages, both rollups, first produced → settled ${e2eSeconds.toFixed(1)} s)${na}`);
  console.log(`  events/s no-op consumer (baseline)              ${fmt(baselineRate)}  (${fmt(baseline.messages)} messages in ${baseline.seconds.toFixed(1)} s)`);
  console.log(`  ratio rollgate / baseline                       ${(rollgateRate / baselineRate).toFixed(3)}×${na}`);
  console.log(`  dead letters                                    ${dead.length} found, ${expectedDead} expected (${bad.length} bad + ${late.length} late, once per rollup; repeats after a kill allowed)`);
  console.log(`  aggregator processes                            ${aggregators.length} started, ${killed} SIGKILLed, ${aliveAtEnd}; their own counters:`);
  for (const d of diagnostics) console.log(`    ${d}`);
  console.log(`  aggregator log lines                            ${errorLines.reduce((a, b) => a + b, 0)} error, ${warnLines.reduce((a, b) => a + b, 0)} warn  (logs: ${logDir})`);

  const ok = problems.length === 0 && failures.length === 0;
  console.log('');
  if (ok) {
    console.log('PASS: both rollups equal their store\'s own GROUP BY over every valid event; every bad and late message dead-lettered');
  } else {
    console.log('FAIL');
    for (const f of failures) console.log(`  ${f}`);
    for (const p of problems.slice(0, 40)) console.log(`  ${p}`);
    for (const a of aggregators) {
      const errors = a.proc.output().split('\n').filter((l) => /"level":(50|60)/.test(l));
      if (errors.length > 0) console.log(`  aggregator #${a.id} (${a.rollup}, ${a.exit ?? 'alive'}): ${errors.length} error lines, last:\n${tail(errors.join('\n'), 3)}`);
    }
  }
  return ok;
}

const deadlineTimer = setTimeout(() => {
  deadlineHit = true;
  console.error(`\nDEADLINE: not done after ${timeoutMs / 60_000} min; cleaning up and exiting`);
  for (const f of failures) console.error(`  ${f}`);
  void withTimeout('cleanup after deadline', 240_000, cleanupOnce())
    .catch((err: unknown) => console.error(String(err)))
    .finally(() => process.exit(2));
}, timeoutMs);

let exitCode = 2;
try {
  exitCode = (await main()) ? 0 : 1;
} catch (err) {
  console.error(`\nERROR: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  for (const f of failures) console.error(`  ${f}`);
} finally {
  await cleanupOnce();
  clearTimeout(deadlineTimer);
}
process.exit(exitCode);
