/**
 * Freshness on the real stack: how long until what was produced to Kafka can
 * be read from the REST API.
 *
 *   partial   a probe sample of a new series is produced → its open window is
 *             served by GET /api/cpu-mem-5min (final = false)
 *   final     the event that moves a partition's watermark past the probe's
 *             window end (window end + lateness) is produced → the probe's row
 *             is served with final = true
 *
 * Baselines in the same run, for the same probes:
 *   kafka       produced → a no-op kafkajs consumer of the topic receives it
 *   clickhouse  produced → the row is in ClickHouse (a direct query): what the
 *               aggregator's flush costs, before the gateway and its cache
 *
 * One aggregator (`rollgate aggregate cpu-mem-5min`, production flush interval
 * unless --flush-ms) and one gateway (`rollgate serve`, result cache on, so a
 * hit must be invalidated by the aggregator's write announcement over Redis)
 * run as their own processes. Event time is synthetic: round r uses the window
 * that starts r × 10 min after a boundary a day ago, so a round can close its
 * window at once instead of waiting 6 minutes of wall time. Each round sends
 * one probe per partition (and a background load of --rate events/s of other
 * series into the same window meanwhile), waits until every probe is served
 * as partial, then closes the window on every partition and waits for the
 * final rows. Pollers ask every --poll-ms, so figures carry up to that much
 * granularity. Writes bench/results/freshness.json.
 *
 *   npm run bench:freshness -- [--rounds=20] [--partitions=3] [--rate=500] [--flush-ms=2000] [--poll-ms=50]
 */
import { createClient } from '@clickhouse/client';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { seededRandom } from '../src/demo/metrics-producer.js';
import { startRollgate, type RollgateProcess } from '../test/helpers/rollgate-process.js';
import { cleanupKafka, createTopic, fmt, kafkaClient, machine, sample, say, sleep, startAggregator, type Aggregator } from './cpu-mem-workload.js';
import { withTimeout } from './kafka-read.js';
import { ensureStackEnv, writeResults } from './stack-env.js';

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    partitions: { type: 'string', default: '3' },
    rate: { type: 'string', default: '500' },
    'flush-ms': { type: 'string', default: '2000' },
    'poll-ms': { type: 'string', default: '50' },
  },
});
const ROUNDS = Number(opts.rounds);
const PARTITIONS = Number(opts.partitions);
const RATE = Number(opts.rate);
const FLUSH_MS = Number(opts['flush-ms']);
const POLL_MS = Number(opts['poll-ms']);
const WINDOW_MS = 300_000;
const LATENESS_MS = 60_000;
const BACKGROUND_SERIES = 200;
/** Probe series are numbered from here, far above the background ones. */
const PROBE_BASE = 1_000_000;

const ADMIN_TOKEN = 'bench-freshness-admin-token-0123456789';
const APP = { appKey: 'bench-freshness-app', appSecret: 'bench-freshness-secret-0123456789', appCode: 'bench-freshness-code-0123456789' };

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};
const stats = (xs: number[]) => ({ n: xs.length, p50: percentile(xs, 50), p95: percentile(xs, 95), min: Math.min(...xs), max: Math.max(...xs) });

async function main(): Promise<void> {
  await ensureStackEnv(say);
  const brokers = process.env['KAFKA_BROKERS']!;
  const chUrl = process.env['CLICKHOUSE_URL']!;
  const tag = `bench_fresh_${Date.now().toString(36)}`;
  const topic = `${tag}.system_proc`;
  const database = tag;
  const ch = createClient({ url: chUrl });
  const kafka = kafkaClient(brokers);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const watcher = kafka.consumer({ groupId: `${tag}-watch` });
  let aggregator: Aggregator | undefined;
  let gateway: RollgateProcess | undefined;
  let stopBackground = false;
  let background: Promise<void> = Promise.resolve();
  try {
    await createTopic(brokers, topic, PARTITIONS);
    await producer.connect();

    // Kafka baseline: when the no-op consumer sees each probe.
    const seenInKafka = new Map<string, number>();
    await watcher.connect();
    await watcher.subscribe({ topic, fromBeginning: true });
    await watcher.run({
      eachBatch: async ({ batch }) => {
        const now = performance.now();
        for (const m of batch.messages) {
          const key = m.key?.toString() ?? '';
          if (!seenInKafka.has(key)) seenInKafka.set(key, now);
        }
      },
    });

    aggregator = await startAggregator({
      KAFKA_BROKERS: brokers,
      CLICKHOUSE_URL: chUrl,
      CLICKHOUSE_DATABASE: database,
      REDIS_URL: process.env['REDIS_URL']!,
      TOPIC_PREFIX: `${tag}.`,
      KAFKA_CLIENT_ID: tag,
      AGGREGATOR_FLUSH_MS: String(FLUSH_MS),
    });
    gateway = startRollgate(['serve'], {
      CLICKHOUSE_URL: chUrl,
      CLICKHOUSE_DATABASE: database,
      REDIS_URL: process.env['REDIS_URL']!,
      LOG_LEVEL: 'warn',
      ROLLGATE_ADMIN_TOKEN: ADMIN_TOKEN,
      ROLLGATE_BOOTSTRAP_APP_KEY: APP.appKey,
      ROLLGATE_BOOTSTRAP_APP_SECRET: APP.appSecret,
      ROLLGATE_BOOTSTRAP_APP_CODE: APP.appCode,
    });
    const api = await gateway.url();
    const lifted = await fetch(`${api}/admin/apps/${APP.appKey}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ rateLimit: { rps: 100_000, burst: 100_000 } }),
    });
    if (!lifted.ok) throw new Error(`could not lift the bench app's rate limit: ${lifted.status} ${await lifted.text()}`);

    const day = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000;
    const windowOf = (round: number) => day + round * 2 * WINDOW_MS;
    const random = seededRandom(11);
    let backgroundWindow: number | undefined;
    let backgroundSent = 0;
    let backgroundSend: Promise<unknown> = Promise.resolve();
    // The background load writes into the current round's window only, and pauses while a window closes
    // (an event of that window arriving after the closer would be late).
    background = (async () => {
      let series = 0;
      while (!stopBackground) {
        const tickStarted = performance.now();
        const window = backgroundWindow;
        if (window !== undefined && RATE > 0) {
          const n = Math.max(1, Math.round(RATE / 10));
          const messages = Array.from({ length: n }, () => sample((series++ % BACKGROUND_SERIES) + 1, window + 1000 + (series % 200_000), random));
          backgroundSend = producer.send({ topic, messages });
          await backgroundSend;
          backgroundSent += n;
        }
        await sleep(Math.max(0, 100 - (performance.now() - tickStarted)));
      }
    })();
    const pauseBackground = async () => {
      backgroundWindow = undefined;
      await backgroundSend;
    };

    const auth = { authorization: `APPCODE ${APP.appCode}` };
    const apiRow = async (ip: string) => {
      const res = await fetch(`${api}/api/cpu-mem-5min?ip=${ip}&pageSize=5`, { headers: auth });
      if (!res.ok) throw new Error(`GET /api/cpu-mem-5min answered ${res.status}: ${await res.text()}`);
      const body = (await res.json()) as { data: { rows: Array<{ final: boolean | number; samples: number }> } };
      return body.data.rows[0];
    };
    const chRow = async (ip: string) =>
      ((await (await ch.query({ query: `SELECT final FROM ${database}.cpu_mem_5min FINAL WHERE ip = '${ip}'`, format: 'JSONEachRow' })).json()) as Array<{ final: number }>)[0];
    /** Polls `probe` every POLL_MS until it answers true; resolves with the time it did. */
    const until = async (what: string, probe: () => Promise<boolean>) =>
      withTimeout(
        what,
        120_000,
        (async () => {
          while (!(await probe())) await sleep(POLL_MS);
          return performance.now();
        })(),
      );

    const partialApi: number[] = [];
    const partialCh: number[] = [];
    const partialKafka: number[] = [];
    const finalApi: number[] = [];
    const finalCh: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const start = windowOf(round);
      backgroundWindow = start;
      // Probes land at a random moment of the flush cycle, not just after the flush that ended the last round.
      await sleep(random() * FLUSH_MS);
      // One probe series per partition, sent to that partition.
      const probes = Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, message: sample(PROBE_BASE + round * PARTITIONS + p, start + 30_000, random) }));
      const sent = await Promise.all(
        probes.map(async ({ partition, message }) => {
          const t0 = performance.now();
          await producer.send({ topic, messages: [{ ...message, partition }] });
          return t0;
        }),
      );
      const ips = probes.map(({ message }) => String(message.key).split(':')[0]!);
      await Promise.all(
        ips.map(async (ip, i) => {
          const t0 = sent[i]!;
          const key = String(probes[i]!.message.key);
          const [atApi, atCh] = await Promise.all([
            until(`probe ${ip} in the API`, async () => (await apiRow(ip)) !== undefined),
            until(`probe ${ip} in ClickHouse`, async () => (await chRow(ip)) !== undefined),
            until(`probe ${ip} in Kafka`, async () => seenInKafka.has(key)),
          ]);
          partialApi.push(atApi - t0);
          partialCh.push(atCh - t0);
          partialKafka.push(seenInKafka.get(key)! - t0);
        }),
      );

      // Close the window on every partition: background paused, then one event per partition at window end + lateness.
      await pauseBackground();
      const closedAt = await Promise.all(
        Array.from({ length: PARTITIONS }, async (_, p) => {
          const t0 = performance.now();
          const closer = sample(PROBE_BASE - 1 - p, start + WINDOW_MS + LATENESS_MS, random);
          await producer.send({ topic, messages: [{ ...closer, partition: p }] });
          return t0;
        }),
      );
      await Promise.all(
        ips.map(async (ip, i) => {
          const t0 = closedAt[i]!;
          const [atApi, atCh] = await Promise.all([
            until(`final row of ${ip} in the API`, async () => Boolean((await apiRow(ip))?.final)),
            until(`final row of ${ip} in ClickHouse`, async () => Boolean((await chRow(ip))?.final)),
          ]);
          finalApi.push(atApi - t0);
          finalCh.push(atCh - t0);
        }),
      );
      say(
        `round ${round + 1}/${ROUNDS}: partial API ${partialApi.slice(-PARTITIONS).map((x) => x.toFixed(0)).join('/')} ms, final API ${finalApi.slice(-PARTITIONS).map((x) => x.toFixed(0)).join('/')} ms`,
      );
    }
    stopBackground = true;
    await background;
    const dead = await aggregator.metric('rollgate_dead_letters_total');

    const summary = {
      partial: { api: stats(partialApi), clickhouse: stats(partialCh), kafka: stats(partialKafka) },
      final: { api: stats(finalApi), clickhouse: stats(finalCh) },
    };
    const ratios = {
      partialApiVsClickHouse_p50: summary.partial.api.p50 / summary.partial.clickhouse.p50,
      partialApiVsClickHouse_p95: summary.partial.api.p95 / summary.partial.clickhouse.p95,
      partialApiVsFlushInterval_p95: summary.partial.api.p95 / FLUSH_MS,
      finalApiVsClickHouse_p50: summary.final.api.p50 / summary.final.clickhouse.p50,
    };
    say('');
    say(`${ROUNDS} rounds × ${PARTITIONS} probes, flush every ${FLUSH_MS} ms, background ${RATE} events/s (${fmt(backgroundSent)} sent), polled every ${POLL_MS} ms; ms from produce`);
    say('                          p50      p95      min      max');
    const row = (name: string, s: ReturnType<typeof stats>) =>
      say(`${name.padEnd(22)} ${[s.p50, s.p95, s.min, s.max].map((x) => x.toFixed(0).padStart(7)).join('  ')}`);
    row('partial: kafka', summary.partial.kafka);
    row('partial: clickhouse', summary.partial.clickhouse);
    row('partial: API', summary.partial.api);
    row('final: clickhouse', summary.final.clickhouse);
    row('final: API', summary.final.api);
    say(`partial window in the API: p95 ${(summary.partial.api.p95 / 1000).toFixed(2)} s (target ≤ 3 s); ${ratios.partialApiVsClickHouse_p95.toFixed(2)}× the direct ClickHouse p95`);
    say(`final row in the API after window end + lateness: p50 ${(summary.final.api.p50 / 1000).toFixed(2)} s, p95 ${(summary.final.api.p95 / 1000).toFixed(2)} s`);
    if (dead > 0) say(`WARNING: the aggregator dead-lettered ${dead} events`);

    writeResults('freshness.json', {
      benchmark: 'freshness',
      date: new Date().toISOString(),
      command: `npm run bench:freshness -- --rounds=${ROUNDS} --partitions=${PARTITIONS} --rate=${RATE} --flush-ms=${FLUSH_MS} --poll-ms=${POLL_MS}`,
      machine: machine(),
      unit: 'ms',
      deadLetters: dead,
      backgroundSent,
      summary,
      ratios,
      samples: { partialApi, partialCh, partialKafka, finalApi, finalCh },
    });
    say('results: bench/results/freshness.json');
  } finally {
    stopBackground = true;
    await background.catch(() => undefined);
    await gateway?.stop();
    await aggregator?.proc.stop();
    await watcher.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
    await ch.close();
    await cleanupKafka(brokers, [topic], [`${tag}-watch`, `${tag}.rollgate-cpu-mem-5min`]);
  }
}

await main();
