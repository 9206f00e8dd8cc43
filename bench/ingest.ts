/**
 * Ingest speed of the cpu-mem-5min aggregator from real Kafka, against
 * baselines measured on the same topic in the same run:
 *
 *   noop              a kafkajs consumer that does nothing with the messages, with
 *                     rollgate's client settings (3 partitions at once, default
 *                     fetch sizes): the ceiling the aggregator is held to
 *   noop-*            the same consumer with other client settings (partition
 *                     concurrency, fetch sizes): what tuning the client buys
 *   aggregator        `rollgate aggregate cpu-mem-5min` as its own process, from its
 *                     first consumed event until ClickHouse holds every event folded
 *   clickhouse-kafka  ClickHouse's Kafka engine and a materialized view into an
 *                     AggregatingMergeTree of the same maxima (seed 002's approach),
 *                     on a ClickHouse server the bench starts (bench/clickhouse-kafka.ts
 *                     says why), from the view's creation until every event is counted
 *
 * The aggregator's and ClickHouse's rollups are checked against each other
 * (groups and the sum of max(mem_res)), so neither is fast by skipping work.
 * Each run uses new consumer groups on the one topic, and the targets take
 * turns, so a drift in the machine's load hits all of them. Medians, spreads,
 * and ratios against the no-op consumer are printed and written to
 * bench/results/ingest.json. The topic, its dead-letter topic, the groups and
 * the databases are removed at the end.
 *
 *   npm run bench:ingest -- [--events=1000000] [--partitions=6] [--series=1000] [--runs=3]
 *                           [--ch-consumers=1] [--no-clickhouse-kafka] [--cpu-prof]
 *
 * --cpu-prof writes the aggregator's V8 CPU profile to bench/profiles/.
 */
import { createClient } from '@clickhouse/client';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { kafkaEngineRun, startBenchClickHouse, type BenchClickHouse } from './clickhouse-kafka.js';
import {
  cleanupKafka,
  createTopic,
  fmt,
  historicalSamples,
  machine,
  median,
  produce,
  say,
  sleep,
  startAggregator,
} from './cpu-mem-workload.js';
import { readWholeTopic, withTimeout, type ReaderTuning } from './kafka-read.js';
import { ensureStackEnv, root, writeResults } from './stack-env.js';

const { values: opts } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '6' },
    series: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    'ch-consumers': { type: 'string', default: '1' },
    'no-clickhouse-kafka': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
  },
});
const EVENTS = Number(opts.events);
const PARTITIONS = Number(opts.partitions);
const SERIES = Number(opts.series);
const RUNS = Number(opts.runs);
const CH_CONSUMERS = Number(opts['ch-consumers']);

/** Client settings tried on the no-op consumer; `noop` is what rollgate's consumer uses. */
const NOOP_VARIANTS: Record<string, ReaderTuning> = {
  noop: {},
  'noop-1-partition-at-a-time': { partitionsConsumedConcurrently: 1 },
  'noop-all-partitions-at-once': { partitionsConsumedConcurrently: PARTITIONS },
  'noop-8MB-fetches': { maxBytesPerPartition: 8 * 1024 * 1024, maxBytes: 64 * 1024 * 1024 },
};

interface RollupCheck {
  groups: number;
  memSum: number;
}

/** The aggregator's events/s: from its first consumed event until ClickHouse has every sample folded. */
async function aggregatorRun(run: number, env: Record<string, string>, database: string): Promise<{ rate: number; check: RollupCheck }> {
  const ch = createClient({ url: env['CLICKHOUSE_URL']! });
  const profile = opts['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${path.join(root, 'bench', 'profiles')}`] : [];
  const agg = await startAggregator({ ...env, CLICKHOUSE_DATABASE: database, AGGREGATOR_FLUSH_MS: '1000' }, profile);
  try {
    let first = 0;
    while (first === 0) {
      if ((await agg.metric('rollgate_events_in_total')) > 0) first = performance.now();
      else await sleep(20);
    }
    const scalar = async (sql: string): Promise<Record<string, string>> =>
      ((await (await ch.query({ query: sql, format: 'JSONEachRow' })).json()) as Array<Record<string, string>>)[0] ?? {};
    await withTimeout(
      'the aggregator to fold every event',
      900_000,
      (async () => {
        while (Number((await scalar(`SELECT sum(samples) AS n FROM ${database}.cpu_mem_5min FINAL`).catch((): Record<string, string> => ({})))['n'] ?? 0) < EVENTS) {
          const dead = await agg.metric('rollgate_dead_letters_total');
          if (dead > 0) throw new Error(`the aggregator dead-lettered ${dead} events; the workload is wrong`);
          await sleep(100);
        }
      })(),
    );
    const rate = EVENTS / ((performance.now() - first) / 1000);
    const check = await scalar(`SELECT count() AS groups, sum(mem) AS memSum FROM ${database}.cpu_mem_5min FINAL`);
    return { rate, check: { groups: Number(check['groups']), memSum: Number(check['memSum']) } };
  } finally {
    await agg.proc.stop();
    await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
    await ch.close();
  }
}

async function main(): Promise<void> {
  await ensureStackEnv(say);
  const brokers = process.env['KAFKA_BROKERS']!;
  const chUrl = process.env['CLICKHOUSE_URL']!;
  const tag = `bench_ingest_${Date.now().toString(36)}`;
  const topic = `${tag}.system_proc`;
  const groups: string[] = [];
  let benchCh: BenchClickHouse | undefined;
  try {
    await createTopic(brokers, topic, PARTITIONS);
    const produced = await produce(brokers, topic, EVENTS, historicalSamples(SERIES));
    say(`produced ${fmt(EVENTS)} events to ${topic} (${PARTITIONS} partitions, ${fmt(SERIES)} series) in ${produced.toFixed(1)} s`);
    if (!opts['no-clickhouse-kafka']) {
      benchCh = await startBenchClickHouse();
      say(`started the bench's own ClickHouse ${benchCh.version} at ${benchCh.url} (Kafka from the earliest offset)`);
    }

    const rates: Record<string, number[]> = Object.fromEntries([...Object.keys(NOOP_VARIANTS), 'aggregator', ...(benchCh ? ['clickhouse-kafka'] : [])].map((k) => [k, []]));
    for (let run = 1; run <= RUNS; run++) {
      const line: string[] = [];
      for (const [name, tuning] of Object.entries(NOOP_VARIANTS)) {
        const group = `${tag}-${name}-${run}`;
        groups.push(group);
        const r = await readWholeTopic(brokers.split(','), topic, group, undefined, tuning);
        rates[name]!.push(r.messages / r.seconds);
        line.push(`${name} ${fmt(r.messages / r.seconds)}`);
      }
      // The aggregator's group is <TOPIC_PREFIX>rollgate-cpu-mem-5min.
      const prefix = `${tag}.`;
      const aggGroup = `${prefix}rollgate-cpu-mem-5min`;
      const aggregator = await aggregatorRun(run, { KAFKA_BROKERS: brokers, CLICKHOUSE_URL: chUrl, TOPIC_PREFIX: prefix, KAFKA_CLIENT_ID: `${tag}-r${run}` }, `${tag}_r${run}`);
      // Every run starts from the beginning: forget the group (its offsets) before the next one.
      await cleanupKafka(brokers, [], [aggGroup]);
      rates['aggregator']!.push(aggregator.rate);
      line.push(`aggregator ${fmt(aggregator.rate)}`);
      if (benchCh !== undefined) {
        const group = `${tag}-clickhouse-${run}`;
        groups.push(group);
        const r = await kafkaEngineRun(benchCh, { brokers, topic, groupId: group, database: `${tag}_ch${run}`, events: EVENTS, consumers: CH_CONSUMERS });
        if (r.groups !== aggregator.check.groups || r.memSum !== aggregator.check.memSum) {
          throw new Error(`the rollups differ: aggregator ${JSON.stringify(aggregator.check)}, ClickHouse Kafka engine ${JSON.stringify({ groups: r.groups, memSum: r.memSum })}`);
        }
        rates['clickhouse-kafka']!.push(r.eventsPerSecond);
        line.push(`clickhouse-kafka ${fmt(r.eventsPerSecond)}`);
      }
      say(`run ${run}/${RUNS} (events/s): ${line.join('  ')}`);
    }

    const summary = Object.fromEntries(Object.entries(rates).map(([k, xs]) => [k, { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) }]));
    const noop = summary['noop']!.median;
    const ratios: Record<string, number> = Object.fromEntries(Object.entries(summary).map(([k, s]) => [`${k}VsNoop`, s.median / noop]));
    if (summary['clickhouse-kafka'] !== undefined) ratios['aggregatorVsClickHouseKafka'] = summary['aggregator']!.median / summary['clickhouse-kafka'].median;
    say('');
    say(`events/s, medians of ${RUNS} runs over ${fmt(EVENTS)} events (min–max), and the median against the no-op consumer's`);
    for (const [k, s] of Object.entries(summary)) {
      say(`  ${k.padEnd(28)} ${fmt(s.median).padStart(9)}  (${fmt(s.min)}–${fmt(s.max)})  ${(s.median / noop).toFixed(2)}×`);
    }
    say(`aggregator / no-op consumer: ${ratios['aggregatorVsNoop']!.toFixed(2)} (target ≥ 0.8)`);
    if (ratios['aggregatorVsClickHouseKafka'] !== undefined) say(`aggregator / ClickHouse Kafka engine: ${ratios['aggregatorVsClickHouseKafka'].toFixed(2)} (target ≥ 1)`);

    const command = `npm run bench:ingest -- --events=${EVENTS} --partitions=${PARTITIONS} --series=${SERIES} --runs=${RUNS} --ch-consumers=${CH_CONSUMERS}${opts['no-clickhouse-kafka'] ? ' --no-clickhouse-kafka' : ''}`;
    writeResults('ingest.json', { benchmark: 'ingest', date: new Date().toISOString(), command, machine: machine(), clickhouseKafkaVersion: benchCh?.version, noopVariants: NOOP_VARIANTS, summary, ratios, runs: rates });
    say('results: bench/results/ingest.json');
  } finally {
    await benchCh?.stop();
    await cleanupKafka(brokers, [topic], groups);
  }
}

await main();
