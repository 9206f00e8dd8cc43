/**
 * Ingest speed of the cpu-mem-5min aggregator from real Kafka, against a
 * baseline measured on the same topic in the same run:
 *
 *   noop         a kafkajs consumer that does nothing with the messages (same
 *                client, same partition concurrency as rollgate's): the ceiling
 *   aggregator   `rollgate aggregate cpu-mem-5min` as its own process, from its
 *                first consumed event until ClickHouse holds every event folded
 *
 * Not yet here: the issue's second baseline, ClickHouse's own Kafka engine with
 * a materialized view (seed 002's approach). On this machine's ClickHouse 18.16
 * a Kafka table consumed nothing from the 3.9 broker (new group, existing
 * messages; auto_offset_reset in config.xml did not change that without a
 * restart), and it is left for the benchmarks issue.
 * Each run uses new consumer groups on the one topic, and the targets take
 * turns, so a drift in the machine's load hits all of them. Medians, spreads,
 * and ratios against the no-op consumer are printed and written to
 * bench/results/ingest.json.
 *
 *   npm run bench:ingest -- [--events=1000000] [--partitions=6] [--series=1000] [--runs=3]
 */
import { createClient } from '@clickhouse/client';
import { Kafka, logLevel } from 'kafkajs';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { seededRandom } from '../src/demo/metrics-producer.js';
import { startRollgate } from '../test/helpers/rollgate-process.js';
import { readWholeTopic, withTimeout } from './kafka-read.js';
import { ensureStackEnv, root } from './stack-env.js';

const { values: opts } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '6' },
    series: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    'cpu-prof': { type: 'boolean', default: false },
  },
});
const EVENTS = Number(opts.events);
const PARTITIONS = Number(opts.partitions);
const SERIES = Number(opts.series);
const RUNS = Number(opts.runs);
const say = (line: string) => process.stdout.write(`${line}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function produce(brokers: string[], topic: string): Promise<void> {
  const kafka = new Kafka({ brokers, clientId: 'bench-ingest', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const random = seededRandom(7);
  // In order per series, one sample every 2 s, from two days ago: every window but the last closes.
  const start = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 2 * 86_400_000;
  const started = performance.now();
  for (let i = 0; i < EVENTS; i += 10_000) {
    const messages = [];
    for (let j = i; j < Math.min(EVENTS, i + 10_000); j++) {
      const series = j % SERIES;
      const ip = `10.${Math.floor(series / 250)}.0.${series % 250}`;
      messages.push({
        key: `${ip}:${1000 + series}`,
        value: JSON.stringify({
          ip,
          pid: 1000 + series,
          cpu_usage_pct: Math.round(random() * 10_000) / 100,
          mem_usage_pct: Math.round(random() * 10_000) / 100,
          mem_res: Math.floor(random() * 8 * 1024 ** 3),
          timestamp: start + Math.floor(j / SERIES) * 2000,
        }),
      });
    }
    await producer.send({ topic, messages });
  }
  await producer.disconnect();
  say(`produced ${fmt(EVENTS)} events to ${topic} (${PARTITIONS} partitions) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
}

/** The aggregator's events/s: from its first consumed event until ClickHouse has every sample folded. */
async function aggregatorRun(run: number, env: Record<string, string>, database: string): Promise<number> {
  const ch = createClient({ url: env['CLICKHOUSE_URL']! });
  const profile = opts['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${path.join(root, 'bench', 'profiles')}`] : [];
  const proc = startRollgate(['aggregate', 'cpu-mem-5min'], { ...env, CLICKHOUSE_DATABASE: `${database}_r${run}`, METRICS_PORT: '0', AGGREGATOR_FLUSH_MS: '1000' }, profile);
  try {
    const base = await withTimeout('the aggregator metrics port', 60_000, waitForMetricsUrl(proc.output)).catch((err: unknown) => {
      throw new Error(`${String(err)}; its output:\n${proc.output()}`);
    });
    let first = 0;
    while (first === 0) {
      if ((await metric(base, 'rollgate_events_in_total')) > 0) first = performance.now();
      else await sleep(20);
    }
    const samples = async () =>
      Number(
        ((await (await ch.query({ query: `SELECT sum(samples) AS n FROM ${database}_r${run}.cpu_mem_5min FINAL`, format: 'JSONEachRow' })).json()) as Array<{ n: string }>)[0]?.n ?? 0,
      );
    await withTimeout('the aggregator to fold every event', 900_000, (async () => {
      while ((await samples().catch(() => 0)) < EVENTS) {
        const dead = await metric(base, 'rollgate_dead_letters_total');
        if (dead > 0) throw new Error(`the aggregator dead-lettered ${dead} events; the workload is wrong:\n${await (await fetch(`${base}/metrics`)).text().then((t) => t.split('\n').filter((l) => l.startsWith('rollgate_dead_letters_total')).join('\n'))}`);
        await sleep(100);
      }
    })());
    return EVENTS / ((performance.now() - first) / 1000);
  } finally {
    await proc.stop();
    // The group id comes from TOPIC_PREFIX, so every run uses the same one: forget its offsets for the next run.
    const admin = new Kafka({ brokers: env['KAFKA_BROKERS']!.split(','), clientId: 'bench-ingest', logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteGroups([`${env['TOPIC_PREFIX']}rollgate-cpu-mem-5min`]).catch(() => undefined);
    await admin.disconnect();
    await ch.command({ query: `DROP DATABASE IF EXISTS ${database}_r${run}` }).catch(() => undefined);
    await ch.close();
  }
}

function waitForMetricsUrl(output: () => string): Promise<string> {
  return (async () => {
    for (;;) {
      const m = /health and metrics on (http:\/\/\S+)\/metrics/.exec(output());
      if (m?.[1] !== undefined) return m[1];
      await sleep(50);
    }
  })();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  await ensureStackEnv(say);
  const brokers = process.env['KAFKA_BROKERS']!;
  const chUrl = process.env['CLICKHOUSE_URL']!;
  const tag = `bench_ingest_${Date.now().toString(36)}`;
  const topic = `${tag}.system_proc`;
  await produce(brokers.split(','), topic);

  const rates: Record<string, number[]> = { noop: [], aggregator: [] };
  for (let run = 1; run <= RUNS; run++) {
    const noop = await readWholeTopic(brokers.split(','), topic, `${tag}-noop-${run}`);
    rates['noop']!.push(noop.messages / noop.seconds);
    const aggregator = await aggregatorRun(run, { KAFKA_BROKERS: brokers, CLICKHOUSE_URL: chUrl, TOPIC_PREFIX: `${tag}.`, KAFKA_CLIENT_ID: `${tag}-r${run}` }, tag);
    rates['aggregator']!.push(aggregator);
    say(`run ${run}/${RUNS}: noop ${fmt(rates['noop']!.at(-1)!)}  aggregator ${fmt(aggregator)} events/s`);
  }

  const summary = Object.fromEntries(Object.entries(rates).map(([k, xs]) => [k, { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) }]));
  const ratios = { aggregatorVsNoop: summary['aggregator']!.median / summary['noop']!.median };
  say('');
  say(`events/s, medians of ${RUNS} runs over ${fmt(EVENTS)} events (min–max)`);
  for (const [k, s] of Object.entries(summary)) say(`  ${k.padEnd(11)} ${fmt(s.median).padStart(9)}  (${fmt(s.min)}–${fmt(s.max)})`);
  say(`aggregator / no-op consumer: ${ratios.aggregatorVsNoop.toFixed(2)} (target ≥ 0.8)`);

  const out = path.join(root, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    path.join(out, 'ingest.json'),
    `${JSON.stringify(
      {
        benchmark: 'ingest',
        date: new Date().toISOString(),
        command: `npm run bench:ingest -- --events=${EVENTS} --partitions=${PARTITIONS} --series=${SERIES} --runs=${RUNS}`,
        machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
        summary,
        ratios,
        runs: rates,
      },
      null,
      2,
    )}\n`,
  );
  say('results: bench/results/ingest.json');
}

await main();
