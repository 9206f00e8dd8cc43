/**
 * Resident memory of a real `rollgate aggregate cpu-mem-5min` process holding
 * N live series, each with two open windows, fed from real Kafka.
 *
 * For each N a new topic gets one sample per series in window A = [T0, T0+300 s)
 * and then one per series in window B, inside B's first 60 s. The newest event
 * time stays below T0+360 s, so the watermark (newest − 60 s lateness) stays
 * below A's end: A never closes and every series holds 2 open windows. The
 * aggregator runs with a flush interval of 10 minutes, so no flush happens
 * while it folds (no window closes either): the figure is the open state, not
 * a flush's transient rows and checkpoint JSON. Once it has folded all 2N
 * events the bench asks it (SIGUSR2, handled by bench/gc-on-signal.mjs,
 * preloaded with --expose-gc) to collect garbage twice and report
 * process.memoryUsage(). The baseline is the same process after the same
 * steps with --baseline-series series (1,000 by default), in the same run:
 *
 *   bytes per series-window = (RSS(N) − RSS(baseline)) / (2 · (N − baseline))
 *
 * Also reported: heapUsed + external on the same scale, and the peak RSS
 * (VmHWM) while folding.
 * Writes bench/results/memory.json. Topics, groups and databases are removed.
 *
 *   npm run bench:memory-rss -- [--series=10000,100000,1000000] [--baseline-series=1000] [--partitions=6]
 *
 * With --flush-ms=2000 it runs instead the same workload with flushes at that
 * interval (production's default is 2 s), for each --series count: the
 * aggregator folds the 2N events while it flushes rows and checkpoints, then
 * 10 % of the series get one more event. Reported: whether it caught up (all
 * 2N rows in ClickHouse, complete, and no failed write) within --catch-up-s,
 * the checkpoint segments written (count and bytes, base and delta), the
 * longest write (histogram bucket), the checkpoint a restart would read, and
 * the peak RSS. Writes bench/results/memory-flush.json.
 */
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { seededRandom } from '../src/demo/metrics-producer.js';
import { cleanupKafka, createTopic, fmt, machine, produce, sample, say, sleep, startAggregator, type Aggregator } from './cpu-mem-workload.js';
import { withTimeout } from './kafka-read.js';
import { ensureStackEnv, root, writeResults } from './stack-env.js';

const { values: opts } = parseArgs({
  options: {
    series: { type: 'string', default: '10000,100000,1000000' },
    'baseline-series': { type: 'string', default: '1000' },
    partitions: { type: 'string', default: '6' },
    'flush-ms': { type: 'string' },
    'catch-up-s': { type: 'string', default: '600' },
  },
});
const COUNTS = opts.series.split(',').map(Number);
const BASELINE = Number(opts['baseline-series']);
const PARTITIONS = Number(opts.partitions);

interface Reading {
  series: number;
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  peakRss: number;
  foldSeconds: number;
}

type Env = { brokers: string; chUrl: string };

/** What a measurement runs against: the workload's topic and database, and the aggregator folding it. */
interface Workload {
  name: string;
  topic: string;
  ch: ClickHouseClient;
  agg: Aggregator;
  /** The start of window A, and the sample generator where the workload left it (for later events). */
  t0: number;
  random: () => number;
}

/**
 * The workload for `series` series on a topic and database of their own: one
 * sample per series in window A = [t0, t0+300 s), then one in window B's first
 * 60 s, so A never closes; then an aggregator with `flushMs` runs `work`.
 * Topic, consumer group and database are removed after.
 */
async function onWorkload<T>(tag: string, series: number, env: Env, aggregator: { flushMs: number; nodeArgs?: string[] }, work: (w: Workload) => Promise<T>): Promise<T> {
  const name = `${tag}_${series}`;
  const topic = `${name}.system_proc`;
  const ch = createClient({ url: env.chUrl });
  try {
    await createTopic(env.brokers, topic, PARTITIONS);
    const t0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000;
    const random = seededRandom(3);
    const produced = await produce(env.brokers, topic, 2 * series, (i) =>
      i < series ? sample(i, t0 + Math.floor((i / series) * 299_000), random) : sample(i - series, t0 + 300_000 + Math.floor(((i - series) / series) * 59_000), random),
    );
    say(`  ${fmt(series)} series: produced ${fmt(2 * series)} events in ${produced.toFixed(1)} s; flushes every ${aggregator.flushMs} ms`);
    const agg = await startAggregator(
      {
        KAFKA_BROKERS: env.brokers,
        CLICKHOUSE_URL: env.chUrl,
        CLICKHOUSE_DATABASE: name,
        TOPIC_PREFIX: `${name}.`,
        KAFKA_CLIENT_ID: name,
        AGGREGATOR_FLUSH_MS: String(aggregator.flushMs),
      },
      aggregator.nodeArgs,
    );
    try {
      return await work({ name, topic, ch, agg, t0, random });
    } finally {
      await agg.proc.stop();
    }
  } finally {
    await ch.command({ query: `DROP DATABASE IF EXISTS ${name}` }).catch(() => undefined);
    await ch.close();
    await cleanupKafka(env.brokers, [topic], [`${name}.rollgate-cpu-mem-5min`]);
  }
}

async function measure(tag: string, series: number, env: Env): Promise<Reading> {
  const gc = ['--expose-gc', `--import=${path.join(root, 'bench', 'gc-on-signal.mjs')}`];
  return onWorkload(tag, series, env, { flushMs: 600_000, nodeArgs: gc }, async ({ agg }) => {
    const started = Date.now();
    await withTimeout(
      `folding ${2 * series} events`,
      900_000,
      (async () => {
        while ((await agg.metric('rollgate_events_in_total')) < 2 * series) await sleep(250);
      })(),
    );
    const foldSeconds = (Date.now() - started) / 1000;
    if ((await agg.metric('rollgate_dead_letters_total')) > 0) throw new Error('the aggregator dead-lettered events; the workload is wrong');
    if ((await agg.metric('rollgate_windows_closed_total')) > 0) throw new Error('a window closed; the workload is wrong');
    await sleep(5000);
    const readings: Array<Record<string, number>> = [];
    for (let i = 0; i < 3; i++) {
      const before = agg.proc.output().length;
      agg.proc.child.kill('SIGUSR2');
      const line = await withTimeout(
        'the memory report',
        60_000,
        (async () => {
          for (;;) {
            const m = /bench-memory (\{.*\})/.exec(agg.proc.output().slice(before));
            if (m?.[1] !== undefined) return m[1];
            await sleep(100);
          }
        })(),
      );
      readings.push(JSON.parse(line) as Record<string, number>);
      await sleep(1000);
    }
    const status = readFileSync(`/proc/${agg.proc.child.pid}/status`, 'utf8');
    const peakKb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
    const least = readings.reduce((a, b) => ((a['rss'] ?? Infinity) <= (b['rss'] ?? Infinity) ? a : b));
    return {
      series,
      rss: least['rss'] ?? NaN,
      heapUsed: least['heapUsed'] ?? NaN,
      external: least['external'] ?? NaN,
      arrayBuffers: least['arrayBuffers'] ?? NaN,
      peakRss: peakKb * 1024,
      foldSeconds,
    };
  });
}

/** Sum of a metric's samples whose labels contain `labels` (e.g. `kind="base"`). */
function metricValue(text: string, name: string, labels = ''): number {
  let n = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))) if ((m[1] ?? '').includes(labels)) n += Number(m[2]);
  return n;
}

/** The smallest histogram bucket holding every observation: an upper bound of the largest one. */
function largestBucket(text: string, name: string): string {
  const total = metricValue(text, `${name}_count`);
  const buckets = [...text.matchAll(new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\S+)$`, 'gm'))].map((m) => ({ le: m[1]!, n: Number(m[2]) }));
  return buckets.find((b) => b.n >= total && total > 0)?.le ?? 'none';
}

interface FlushReading {
  series: number;
  flushMs: number;
  caughtUp: boolean;
  secondsToCatchUp: number | null;
  rowsInClickHouse: number;
  failedWrites: number;
  writes: number;
  longestWriteAtMostS: string;
  segments: { base: { count: number; bytes: number }; delta: { count: number; bytes: number } };
  /** What a restart would read: the segments table (or the old table, for code before segments). */
  storedCheckpointBytes: number;
  peakRss: number;
}

async function measureFlushing(tag: string, series: number, flushMs: number, env: Env): Promise<FlushReading> {
  return onWorkload(tag, series, env, { flushMs }, async ({ name, topic, ch, agg, t0, random }) => {
    const count = async (query: string): Promise<number> => {
      const rows = await (await ch.query({ query, format: 'JSONEachRow' })).json<{ n: string | number }>();
      return Number(rows[0]?.n ?? 0);
    };
    const started = Date.now();
    const deadline = started + Number(opts['catch-up-s']) * 1000;
    const scrape = async () => (await fetch(`${agg.metricsUrl}/metrics`)).text();
    const table = `${name}.cpu_mem_5min`;
    // Caught up: every event folded, and the store holds every (series, window) row with all of its events.
    const caughtUp = async (events: number, samples: number): Promise<boolean> => {
      for (;;) {
        if (Date.now() > deadline) return false;
        const text = await scrape().catch(() => '');
        if (metricValue(text, 'rollgate_events_in_total') >= events && metricValue(text, 'rollgate_aggregator_waiting_for_sink') === 0) {
          const stored = await count(`SELECT sum(samples) AS n FROM ${table} FINAL`).catch(() => -1);
          if (stored === samples) return true;
        }
        await sleep(2000);
      }
    };
    let ok = await caughtUp(2 * series, 2 * series);
    // The steady state after the load: a tenth of the series move on, the rest stand still.
    const updates = Math.ceil(series / 10);
    if (ok) {
      await produce(env.brokers, topic, updates, (i) => sample(i * 10, t0 + 300_000 + 59_500, random));
      ok = await caughtUp(2 * series + updates, 2 * series + updates);
      await sleep(3 * flushMs);
    }
    const text = await scrape();
    const status = readFileSync(`/proc/${agg.proc.child.pid}/status`, 'utf8');
    const segments = async (kind: string) => ({
      count: metricValue(text, 'rollgate_checkpoint_segment_bytes_count', `kind="${kind}"`),
      bytes: metricValue(text, 'rollgate_checkpoint_segment_bytes_sum', `kind="${kind}"`),
    });
    const storedCheckpointBytes =
      (await count(`SELECT sum(length(state)) AS n FROM ${name}.rollgate_checkpoint_segments FINAL`).catch(() => 0)) ||
      (await count(`SELECT sum(length(state)) AS n FROM ${name}.rollgate_checkpoints FINAL`).catch(() => 0));
    return {
      series,
      flushMs,
      caughtUp: ok,
      secondsToCatchUp: ok ? (Date.now() - started) / 1000 : null,
      rowsInClickHouse: await count(`SELECT count() AS n FROM ${table} FINAL`).catch(() => -1),
      failedWrites: metricValue(text, 'rollgate_sink_write_errors_total'),
      writes: metricValue(text, 'rollgate_sink_write_seconds_count'),
      longestWriteAtMostS: largestBucket(text, 'rollgate_sink_write_seconds'),
      segments: { base: await segments('base'), delta: await segments('delta') },
      storedCheckpointBytes,
      peakRss: Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024,
    };
  });
}

async function mainFlushing(flushMs: number): Promise<void> {
  await ensureStackEnv(say);
  const env = { brokers: process.env['KAFKA_BROKERS']!, chUrl: process.env['CLICKHOUSE_URL']! };
  const tag = `bench_memf_${Date.now().toString(36)}`;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const results: FlushReading[] = [];
  for (const n of COUNTS) {
    const r = await measureFlushing(tag, n, flushMs, env);
    results.push(r);
    const { base, delta } = r.segments;
    say(
      `  ${fmt(n)} series: ${r.caughtUp ? `caught up in ${r.secondsToCatchUp?.toFixed(0)} s` : `did NOT catch up in ${opts['catch-up-s']} s`}; ` +
        `${fmt(r.rowsInClickHouse)} rows stored; ${r.writes} writes, ${r.failedWrites} failed, longest ≤ ${r.longestWriteAtMostS} s; ` +
        `segments: ${base.count} base ${mib(base.bytes)}, ${delta.count} delta ${mib(delta.bytes)}; stored checkpoint ${mib(r.storedCheckpointBytes)}; peak RSS ${mib(r.peakRss)}`,
    );
  }
  writeResults('memory-flush.json', {
    benchmark: 'memory-flush',
    date: new Date().toISOString(),
    command: `npm run bench:memory-rss -- --flush-ms=${flushMs} --series=${COUNTS.join(',')} --partitions=${PARTITIONS} --catch-up-s=${opts['catch-up-s']}`,
    machine: machine(),
    results,
  });
  say('results: bench/results/memory-flush.json');
}

async function main(): Promise<void> {
  await ensureStackEnv(say);
  const env = { brokers: process.env['KAFKA_BROKERS']!, chUrl: process.env['CLICKHOUSE_URL']! };
  const tag = `bench_mem_${Date.now().toString(36)}`;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  say(`baseline: ${fmt(BASELINE)} series`);
  const base = await measure(tag, BASELINE, env);
  const results = [];
  for (const n of COUNTS) {
    const r = await measure(tag, n, env);
    const windows = 2 * (n - BASELINE);
    results.push({
      ...r,
      rssBytesPerSeriesWindow: (r.rss - base.rss) / windows,
      heapBytesPerSeriesWindow: (r.heapUsed + r.external - base.heapUsed - base.external) / windows,
      peakRssBytesPerSeriesWindow: (r.peakRss - base.peakRss) / windows,
    });
    say(`  ${fmt(n)} series: RSS ${mib(r.rss)} (peak ${mib(r.peakRss)}), heap ${mib(r.heapUsed)}, folded in ${r.foldSeconds.toFixed(1)} s`);
  }
  say('');
  say(`baseline (${fmt(BASELINE)} series): RSS ${mib(base.rss)}, heap ${mib(base.heapUsed)}, peak ${mib(base.peakRss)}`);
  say('series       RSS  B/series-window (RSS)  B/series-window (heap+external)  peak RSS  B/series-window (peak)');
  for (const r of results) {
    say(
      `${fmt(r.series).padStart(9)}  ${mib(r.rss).padStart(8)}  ${r.rssBytesPerSeriesWindow.toFixed(0).padStart(21)}  ${r.heapBytesPerSeriesWindow.toFixed(0).padStart(31)}  ${mib(r.peakRss).padStart(8)}  ${r.peakRssBytesPerSeriesWindow.toFixed(0).padStart(22)}`,
    );
  }
  say('target: linear, ≤ 500 B per live series per open window');

  writeResults('memory.json', {
    benchmark: 'memory',
    date: new Date().toISOString(),
    command: `npm run bench:memory-rss -- --series=${COUNTS.join(',')} --baseline-series=${BASELINE} --partitions=${PARTITIONS}`,
    machine: machine(),
    openWindowsPerSeries: 2,
    baseline: base,
    results,
  });
  say('results: bench/results/memory.json');
}

await (opts['flush-ms'] === undefined ? main() : mainFlushing(Number(opts['flush-ms'])));
