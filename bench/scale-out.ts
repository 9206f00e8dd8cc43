/**
 * Scale out: events/s of 1, 2 and 4 `rollgate aggregate cpu-mem-5min`
 * processes sharing one consumer group on a topic with 8 partitions, against
 * the one-process figure of the same run (and a no-op kafkajs consumer of the
 * topic, for the ceiling of one client).
 *
 * The processes start together on the filled topic. A figure runs from the
 * first event any of them consumed until ClickHouse holds every event folded,
 * so it includes the group's rebalances as members join: partitions move, and
 * their new owners restore from the stored checkpoint and fold again what the
 * old owner had not checkpointed ("refolded" below). The CPU seconds every
 * aggregator process used (/proc/<pid>/stat), divided by the wall time, say
 * how many of the machine's cores the aggregators got. Process counts take
 * turns in each round. Writes bench/results/scale-out.json.
 *
 *   npm run bench:scale-out -- [--events=1000000] [--series=1000] [--processes=1,2,4] [--runs=3]
 */
import { createClient } from '@clickhouse/client';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { cleanupKafka, createTopic, fmt, historicalSamples, machine, median, produce, say, sleep, startAggregator, type Aggregator } from './cpu-mem-workload.js';
import { readWholeTopic, withTimeout } from './kafka-read.js';
import { ensureStackEnv, writeResults } from './stack-env.js';

const { values: opts } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    series: { type: 'string', default: '1000' },
    processes: { type: 'string', default: '1,2,4' },
    runs: { type: 'string', default: '3' },
  },
});
const EVENTS = Number(opts.events);
const SERIES = Number(opts.series);
const COUNTS = opts.processes.split(',').map(Number);
const RUNS = Number(opts.runs);
const PARTITIONS = 8;
const TICKS_PER_SECOND = 100;

function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  // Fields after the parenthesised command: state is the 3rd field, utime the 14th and stime the 15th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

interface RunResult {
  eventsPerSecond: number;
  refolded: number;
  aggregatorCores: number;
}

async function run(processes: number, name: string, env: { brokers: string; chUrl: string; topicPrefix: string }): Promise<RunResult> {
  const ch = createClient({ url: env.chUrl });
  const aggs: Aggregator[] = [];
  try {
    const started = await Promise.all(
      Array.from({ length: processes }, (_, i) =>
        startAggregator({
          KAFKA_BROKERS: env.brokers,
          CLICKHOUSE_URL: env.chUrl,
          CLICKHOUSE_DATABASE: name,
          TOPIC_PREFIX: env.topicPrefix,
          KAFKA_CLIENT_ID: `${name}-${i}`,
          AGGREGATOR_FLUSH_MS: '1000',
        }),
      ),
    );
    aggs.push(...started);
    const consumed = async () => (await Promise.all(aggs.map((a) => a.metric('rollgate_events_in_total')))).reduce((x, y) => x + y, 0);
    let first = 0;
    while (first === 0) {
      if ((await consumed()) > 0) first = performance.now();
      else await sleep(20);
    }
    const cpuAtFirst = aggs.reduce((n, a) => n + cpuSeconds(a.proc.child.pid), 0);
    await withTimeout(
      `${processes} aggregators to fold every event`,
      900_000,
      (async () => {
        const samples = async () =>
          Number(((await (await ch.query({ query: `SELECT sum(samples) AS n FROM ${name}.cpu_mem_5min FINAL`, format: 'JSONEachRow' })).json()) as Array<{ n: string }>)[0]?.n ?? 0);
        while ((await samples().catch(() => 0)) < EVENTS) await sleep(100);
      })(),
    );
    const seconds = (performance.now() - first) / 1000;
    const cpu = aggs.reduce((n, a) => n + cpuSeconds(a.proc.child.pid), 0) - cpuAtFirst;
    const dead = (await Promise.all(aggs.map((a) => a.metric('rollgate_dead_letters_total')))).reduce((x, y) => x + y, 0);
    if (dead > 0) throw new Error(`the aggregators dead-lettered ${dead} events; the workload is wrong`);
    return { eventsPerSecond: EVENTS / seconds, refolded: (await consumed()) - EVENTS, aggregatorCores: cpu / seconds };
  } finally {
    await Promise.all(aggs.map((a) => a.proc.stop()));
    await ch.command({ query: `DROP DATABASE IF EXISTS ${name}` }).catch(() => undefined);
    await ch.close();
  }
}

async function main(): Promise<void> {
  await ensureStackEnv(say);
  const brokers = process.env['KAFKA_BROKERS']!;
  const chUrl = process.env['CLICKHOUSE_URL']!;
  const tag = `bench_scale_${Date.now().toString(36)}`;
  const topicPrefix = `${tag}.`;
  const topic = `${topicPrefix}system_proc`;
  const group = `${topicPrefix}rollgate-cpu-mem-5min`;
  const noopGroups: string[] = [];
  try {
    await createTopic(brokers, topic, PARTITIONS);
    const produced = await produce(brokers, topic, EVENTS, historicalSamples(SERIES));
    say(`produced ${fmt(EVENTS)} events to ${topic} (${PARTITIONS} partitions) in ${produced.toFixed(1)} s`);
    const results = new Map<number, RunResult[]>(COUNTS.map((n) => [n, []]));
    const noop: number[] = [];
    for (let r = 1; r <= RUNS; r++) {
      const g = `${tag}-noop-${r}`;
      noopGroups.push(g);
      const read = await readWholeTopic(brokers.split(','), topic, g);
      noop.push(read.messages / read.seconds);
      const line = [`noop ${fmt(noop.at(-1)!)}`];
      for (const n of COUNTS) {
        const res = await run(n, `${tag}_p${n}_r${r}`, { brokers, chUrl, topicPrefix });
        // The next run starts from the beginning: forget the group and its offsets.
        await cleanupKafka(brokers, [], [group]);
        results.get(n)!.push(res);
        line.push(`${n}× ${fmt(res.eventsPerSecond)} (refolded ${fmt(res.refolded)}, ${res.aggregatorCores.toFixed(2)} cores)`);
      }
      say(`run ${r}/${RUNS} (events/s): ${line.join('  ')}`);
    }
    const one = median(results.get(COUNTS[0]!)!.map((x) => x.eventsPerSecond));
    const summary = COUNTS.map((n) => {
      const xs = results.get(n)!;
      const rates = xs.map((x) => x.eventsPerSecond);
      return {
        processes: n,
        eventsPerSecond: median(rates),
        min: Math.min(...rates),
        max: Math.max(...rates),
        vsOneProcess: median(rates) / one,
        vsNoop: median(rates) / median(noop),
        refolded: median(xs.map((x) => x.refolded)),
        aggregatorCores: median(xs.map((x) => x.aggregatorCores)),
      };
    });
    say('');
    say(`medians of ${RUNS} runs, ${fmt(EVENTS)} events, ${PARTITIONS} partitions, ${os.cpus().length} cores; no-op consumer ${fmt(median(noop))} events/s`);
    say('processes   events/s   (min–max)             vs 1 process  vs no-op  refolded  aggregator cores');
    for (const s of summary) {
      say(
        `${String(s.processes).padStart(9)}  ${fmt(s.eventsPerSecond).padStart(9)}   (${fmt(s.min)}–${fmt(s.max)})`.padEnd(46) +
          `${s.vsOneProcess.toFixed(2).padStart(8)}×  ${s.vsNoop.toFixed(2).padStart(7)}×  ${fmt(s.refolded).padStart(8)}  ${s.aggregatorCores.toFixed(2).padStart(8)}`,
      );
    }
    writeResults('scale-out.json', {
      benchmark: 'scale-out',
      date: new Date().toISOString(),
      command: `npm run bench:scale-out -- --events=${EVENTS} --series=${SERIES} --processes=${COUNTS.join(',')} --runs=${RUNS}`,
      machine: machine(),
      partitions: PARTITIONS,
      noop: { median: median(noop), runs: noop },
      summary,
      runs: Object.fromEntries(results),
    });
    say('results: bench/results/scale-out.json');
  } finally {
    await cleanupKafka(brokers, [topic], [group, ...noopGroups]);
  }
}

await main();
