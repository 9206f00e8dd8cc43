/**
 * What the ingest-side benchmarks share: a system_proc topic filled with
 * cpu-mem-5min samples, `rollgate aggregate cpu-mem-5min` processes and their
 * metrics, and cleanup of the topics and groups a run made.
 */
import { Kafka, logLevel, type Message } from 'kafkajs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { seededRandom } from '../src/demo/metrics-producer.js';
import { startRollgate, type RollgateProcess } from '../test/helpers/rollgate-process.js';
import { withTimeout } from './kafka-read.js';

export const say = (line: string) => process.stdout.write(`${line}\n`);
export const fmt = (n: number) => Math.round(n).toLocaleString('en');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
export const machine = () => ({
  cpus: os.cpus().length,
  model: os.cpus()[0]?.model ?? 'unknown',
  memGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
  note: 'shared machine: other engineers ran builds and tests on the same 2 cores',
});

export function kafkaClient(brokers: string): Kafka {
  return new Kafka({ brokers: brokers.split(','), clientId: 'bench', logLevel: logLevel.NOTHING });
}

export function seriesIp(series: number): string {
  return `10.${Math.floor(series / 62_500)}.${Math.floor(series / 250) % 250}.${series % 250}`;
}

/** One cpu-mem-5min sample as the aggregator expects it: key ip:pid, JSON value. */
export function sample(series: number, timestampMs: number, random: () => number): Message {
  const ip = seriesIp(series);
  const pid = 1000 + (series % 50_000);
  return {
    key: `${ip}:${pid}`,
    value: JSON.stringify({
      ip,
      pid,
      cpu_usage_pct: Math.round(random() * 10_000) / 100,
      mem_usage_pct: Math.round(random() * 10_000) / 100,
      mem_res: Math.floor(random() * 8 * 1024 ** 3),
      timestamp: timestampMs,
    }),
  };
}

export async function createTopic(brokers: string, topic: string, partitions: number): Promise<void> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
}

/** Sends `count` messages made by `make(i)` in requests of 10,000; returns the seconds it took. */
export async function produce(brokers: string, topic: string, count: number, make: (i: number) => Message): Promise<number> {
  const producer = kafkaClient(brokers).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const started = performance.now();
  for (let i = 0; i < count; i += 10_000) {
    const messages: Message[] = [];
    for (let j = i; j < Math.min(count, i + 10_000); j++) messages.push(make(j));
    await producer.send({ topic, messages });
  }
  await producer.disconnect();
  return (performance.now() - started) / 1000;
}

/**
 * The ingest workload: `series` series in order, one sample every 2 s each,
 * from two days ago, so every window but the last closes.
 */
export function historicalSamples(series: number): (i: number) => Message {
  const random = seededRandom(7);
  const start = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 2 * 86_400_000;
  return (i) => sample(i % series, start + Math.floor(i / series) * 2000, random);
}

export interface Aggregator {
  proc: RollgateProcess;
  metricsUrl: string;
  metric(name: string): Promise<number>;
}

/** Starts `rollgate aggregate cpu-mem-5min` (dist/, so `npm run build` first) and waits for its metrics port. */
export async function startAggregator(env: Record<string, string>, nodeArgs: string[] = []): Promise<Aggregator> {
  const proc = startRollgate(['aggregate', 'cpu-mem-5min'], { METRICS_PORT: '0', ...env }, nodeArgs);
  const metricsUrl = await withTimeout(
    'the aggregator metrics port',
    60_000,
    (async () => {
      for (;;) {
        const m = /health and metrics on (http:\/\/\S+)\/metrics/.exec(proc.output());
        if (m?.[1] !== undefined) return m[1];
        if (proc.child.exitCode !== null) throw new Error('the aggregator exited');
        await sleep(50);
      }
    })(),
  ).catch(async (err: unknown) => {
    await proc.stop();
    throw new Error(`${String(err)}; its output:\n${proc.output()}`);
  });
  return {
    proc,
    metricsUrl,
    metric: async (name) => {
      const text = await (await fetch(`${metricsUrl}/metrics`)).text();
      return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    },
  };
}

/** Deletes the bench's topics (and their .dlq) and consumer groups; best effort, saying what it could not delete. */
export async function cleanupKafka(brokers: string, topics: string[], groups: string[]): Promise<void> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    const warn = (what: string) => (err: unknown) => say(`cleanup: could not delete ${what}: ${String(err)}`);
    // One at a time: a group that never committed does not exist, and kafkajs fails a whole request for it.
    for (const group of groups) {
      await admin.deleteGroups([group]).catch((err: unknown) => {
        if (!String((err as { groups?: Array<{ error?: { type?: string } }> }).groups?.[0]?.error?.type).includes('GROUP_ID_NOT_FOUND')) warn(`group ${group}`)(err);
      });
    }
    const existing = new Set(await admin.listTopics());
    const doomed = topics.flatMap((t) => [t, `${t}.dlq`]).filter((t) => existing.has(t));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed }).catch(warn(`topics ${doomed.join(', ')}`));
  } finally {
    await admin.disconnect();
  }
}
