/**
 * The ingest benchmark's second baseline: ClickHouse's own Kafka engine and a
 * materialized view (seed 002's approach) folding the same topic into the same
 * 5-minute maxima.
 *
 * It runs on a ClickHouse server of its own, which this module starts and
 * stops, with its data under bench/.ch-kafka/ (git-ignored), on ports 18123 and
 * 19000. The shared server cannot be used: a Kafka table of a new consumer
 * group starts at the partitions' END (librdkafka's auto.offset.reset
 * "largest"), so it never reads messages that were produced before it was
 * created. ClickHouse 18.16 has no per-table setting for that; it reads
 * `<kafka><auto_offset_reset>smallest</auto_offset_reset></kafka>` from
 * config.xml at server start only, and the shared server may not be restarted.
 *
 * Also set for this server, so the comparison is fair to ClickHouse:
 * stream_flush_interval_ms = 1000 (the default 7500 would hold the last
 * partial block for 7.5 s, where the aggregator runs with a 1 s flush).
 */
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { root } from './stack-env.js';

const HTTP_PORT = 18123;
const TCP_PORT = 19000;
const SERVER_BINARIES = ['/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server'];

export interface BenchClickHouse {
  url: string;
  client: ClickHouseClient;
  version: string;
  stop(): Promise<void>;
}

/** Starts the benchmark's own ClickHouse from the stack's config template, with Kafka reading from the earliest offset. */
export async function startBenchClickHouse(): Promise<BenchClickHouse> {
  const binary = SERVER_BINARIES.find((b) => existsSync(b));
  if (binary === undefined) throw new Error(`no clickhouse-server binary (looked for ${SERVER_BINARIES.join(', ')}); scripts/stack.sh up installs it`);
  const dir = path.join(root, 'bench', '.ch-kafka');
  rmSync(dir, { recursive: true, force: true });
  for (const sub of ['etc', 'data', 'tmp', 'user_files', 'format_schemas', 'logs']) mkdirSync(path.join(dir, sub), { recursive: true });
  const render = (name: string) => readFileSync(path.join(root, 'scripts', 'clickhouse', name), 'utf8').replaceAll('@CH_DIR@', dir);
  const config = render('config.xml')
    .replace('<http_port>8123</http_port>', `<http_port>${HTTP_PORT}</http_port>`)
    .replace('<tcp_port>9000</tcp_port>', `<tcp_port>${TCP_PORT}</tcp_port>`)
    .replace('</yandex>', '    <kafka><auto_offset_reset>smallest</auto_offset_reset></kafka>\n</yandex>');
  if (!config.includes(`<http_port>${HTTP_PORT}</http_port>`)) throw new Error('scripts/clickhouse/config.xml no longer has <http_port>8123</http_port>; update bench/clickhouse-kafka.ts');
  const users = render('users.xml').replace('<default>', '<default>\n            <stream_flush_interval_ms>1000</stream_flush_interval_ms>');
  writeFileSync(path.join(dir, 'etc', 'config.xml'), config);
  writeFileSync(path.join(dir, 'etc', 'users.xml'), users);

  const child: ChildProcess = spawn(binary, [`--config-file=${path.join(dir, 'etc', 'config.xml')}`], { cwd: dir, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${HTTP_PORT}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let waited = 0; ; waited += 200) {
      if (child.exitCode !== null) throw new Error(`the benchmark's clickhouse-server exited at start; see ${dir}/logs`);
      if (waited > 60_000) throw new Error(`the benchmark's clickhouse-server did not answer ${url}/ping within 60 s`);
      if (await fetch(`${url}/ping`).then((r) => r.ok).catch(() => false)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const client = createClient({ url });
    const version = ((await (await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })).json()) as Array<{ v: string }>)[0]?.v ?? '?';
    return {
      url,
      client,
      version,
      stop: async () => {
        await client.close();
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface KafkaEngineResult {
  eventsPerSecond: number;
  /** (window, ip, pid) groups and the sum of their max(mem_res): checked against the aggregator's rollup. */
  groups: number;
  memSum: number;
}

/**
 * Creates the Kafka table (a new consumer group), the rollup table and the
 * materialized view between them; times from the view's creation (consumption
 * starts with it) until the rollup has counted every event.
 */
export async function kafkaEngineRun(
  ch: BenchClickHouse,
  options: { brokers: string; topic: string; groupId: string; database: string; events: number; consumers: number },
): Promise<KafkaEngineResult> {
  const { client } = ch;
  const db = options.database;
  const q = (query: string) => client.command({ query });
  await q(`CREATE DATABASE ${db}`);
  try {
    await q(`CREATE TABLE ${db}.system_proc_queue (ip String, pid UInt32, cpu_usage_pct Float64, mem_usage_pct Float64, mem_res UInt64, timestamp UInt64)
             ENGINE = Kafka SETTINGS kafka_broker_list = '${options.brokers}', kafka_topic_list = '${options.topic}', kafka_group_name = '${options.groupId}',
             kafka_format = 'JSONEachRow', kafka_row_delimiter = '\\n', kafka_num_consumers = ${options.consumers}`);
    await q(`CREATE TABLE ${db}.cpu_mem_5min (window_start DateTime, ip String, pid UInt32,
             mem AggregateFunction(max, UInt64), cpu_usage_pct AggregateFunction(max, Float64), mem_usage_pct AggregateFunction(max, Float64), samples AggregateFunction(count))
             ENGINE = AggregatingMergeTree() PARTITION BY toYYYYMMDD(window_start) ORDER BY (window_start, ip, pid)`);
    const started = performance.now();
    await q(`CREATE MATERIALIZED VIEW ${db}.system_proc_mv TO ${db}.cpu_mem_5min AS
             SELECT toStartOfFiveMinute(toDateTime(intDiv(timestamp, 1000))) AS window_start, ip, pid,
                    maxState(mem_res) AS mem, maxState(cpu_usage_pct) AS cpu_usage_pct, maxState(mem_usage_pct) AS mem_usage_pct, countState() AS samples
             FROM ${db}.system_proc_queue GROUP BY window_start, ip, pid`);
    const counted = async () =>
      Number(((await (await client.query({ query: `SELECT countMerge(samples) AS n FROM ${db}.cpu_mem_5min`, format: 'JSONEachRow' })).json()) as Array<{ n: string }>)[0]?.n ?? 0);
    const deadline = Date.now() + 900_000;
    let n = 0;
    while ((n = await counted()) < options.events) {
      if (Date.now() > deadline) throw new Error(`ClickHouse's Kafka engine folded ${n} of ${options.events} events in 15 min`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - started) / 1000;
    if (n !== options.events) throw new Error(`ClickHouse's Kafka engine counted ${n} events, ${options.events} were produced`);
    const check = ((await (
      await client.query({
        query: `SELECT count() AS groups, sum(m) AS memSum FROM (SELECT window_start, ip, pid, maxMerge(mem) AS m FROM ${db}.cpu_mem_5min GROUP BY window_start, ip, pid)`,
        format: 'JSONEachRow',
      })
    ).json()) as Array<{ groups: string; memSum: string }>)[0];
    return { eventsPerSecond: options.events / seconds, groups: Number(check?.groups ?? 0), memSum: Number(check?.memSum ?? 0) };
  } finally {
    // Dropping the view and the Kafka table first stops their consumer before the data goes.
    await q(`DROP TABLE IF EXISTS ${db}.system_proc_mv`).catch(() => undefined);
    await q(`DROP TABLE IF EXISTS ${db}.system_proc_queue`).catch(() => undefined);
    await q(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
  }
}
