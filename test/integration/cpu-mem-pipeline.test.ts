import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEventTime } from '../../src/core/event-time.js';
import { ident, join, qualified, sql } from '../../src/core/sql-literal.js';
import { KafkaLog } from '../../src/ingest/kafka-log.js';
import { ClickHouseStore } from '../../src/store/clickhouse-store.js';
import { procSamples, uniqueName, type ProcSample } from '../helpers/events.js';
import { readDeadLetters } from '../helpers/dead-letters.js';
import { appHeaders, silentLogger, TEST_APP_ENV } from '../helpers/gateway.js';
import { startRollgate, type RollgateProcess } from '../helpers/rollgate-process.js';
import { stackEnv } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The foundation slice end to end on the real stack: events produced to Kafka,
 * `rollgate aggregate cpu-mem-5min` and `rollgate serve` as separate processes,
 * rollups in ClickHouse compared row for row with ClickHouse's own GROUP BY
 * over the same events, and the same rows served over REST and GraphQL.
 */
const stack = stackEnv();
const prefix = `${uniqueName('it')}.`;
const database = uniqueName('rollgate_it');
const topic = `${prefix}system_proc`;
const SERIES = 6;
const WINDOWS = 4;
// Whole days back, so windows are aligned and far from "now".
const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000 + 8 * 3600_000;
const samples = procSamples({ seed: 7, series: SERIES, windows: WINDOWS, startMs: T0, stepMs: 20_000 });
const lastWindowStart = T0 + WINDOWS * 300_000;
const invalid = [JSON.stringify({ ...samples[0]!, pid: 'x' }), '{"truncated":'];

const ch = new ClickHouseStore({ url: stack.CLICKHOUSE_URL, database, user: 'default', password: '' });
const childEnv = {
  KAFKA_BROKERS: stack.KAFKA_BROKERS,
  CLICKHOUSE_URL: stack.CLICKHOUSE_URL,
  CLICKHOUSE_DATABASE: database,
  REDIS_URL: stack.REDIS_URL,
  MYSQL_URL: stack.MYSQL_URL,
  TOPIC_PREFIX: prefix,
  ...TEST_APP_ENV,
  AGGREGATOR_FLUSH_MS: '500',
  METRICS_PORT: '0',
};
let aggregator: RollgateProcess;
let gateway: RollgateProcess;
let base: string;

interface Row {
  ws: number;
  ip: string;
  pid: number;
  mem: number;
  cpu: number;
  mempct: number;
  samples: number;
}

const numeric = (r: Record<string, unknown>): Row => ({
  ws: Number(r['ws']),
  ip: String(r['ip']),
  pid: Number(r['pid']),
  mem: Number(r['mem']),
  cpu: Number(r['cpu']),
  mempct: Number(r['mempct']),
  samples: Number(r['samples']),
});

async function oracle(): Promise<Row[]> {
  const rows = await ch.rows<Record<string, unknown>>(sql`
    SELECT toUInt32(toStartOfFiveMinute(ts)) AS ws, ip, pid, max(mem_res) AS mem, max(cpu_usage_pct) AS cpu,
           max(mem_usage_pct) AS mempct, count() AS samples
    FROM ${qualified(database, 'raw_system_proc')} GROUP BY ws, ip, pid ORDER BY ws DESC, ip, pid`);
  return rows.map(numeric);
}

async function rollups(): Promise<Array<Row & { final: boolean }>> {
  const rows = await ch.rows<Record<string, unknown>>(sql`
    SELECT toUInt32(window_start) AS ws, ip, pid, mem, cpu_usage_pct AS cpu, mem_usage_pct AS mempct, samples, final
    FROM ${qualified(database, 'cpu_mem_5min')} FINAL ORDER BY ws DESC, ip, pid`);
  return rows.map((r) => ({ ...numeric(r), final: Number(r['final']) === 1 }));
}

beforeAll(async () => {
  const log = new KafkaLog({ brokers: stack.KAFKA_BROKERS.split(','), clientId: 'it' }, silentLogger);
  await log.ensureTopic(topic, 3);
  aggregator = startRollgate(['aggregate', 'cpu-mem-5min'], childEnv);
  gateway = startRollgate(['serve'], childEnv);
  base = await gateway.url();

  const producer = await log.producer();
  const keyed = samples.map((s) => ({ key: `${s.ip}:${s.pid}`, value: JSON.stringify(s) }));
  await producer.send(topic, [...keyed.slice(0, 40), ...invalid.map((value) => ({ key: null, value })), ...keyed.slice(40)]);
  await producer.close();
  await log.close();

  // The oracle's input: the same valid events, raw, in ClickHouse.
  await ch.command(sql`CREATE DATABASE IF NOT EXISTS ${ident(database)}`);
  await ch.command(sql`CREATE TABLE ${qualified(database, 'raw_system_proc')}
    (ts DateTime, ip String, pid UInt32, cpu_usage_pct Float64, mem_usage_pct Float64, mem_res UInt64) ENGINE = MergeTree ORDER BY ts`);
  const values = samples.map((s: ProcSample) =>
    sql`(${new Date(parseEventTime(s.timestamp)!)}, ${s.ip}, ${s.pid}, ${s.cpu_usage_pct}, ${s.mem_usage_pct}, ${s.mem_res})`,
  );
  await ch.command(sql`INSERT INTO ${qualified(database, 'raw_system_proc')} VALUES ${join(values, ', ')}`);

  // Every event folded: closed windows final, the open one complete as a partial row.
  await waitFor(
    'the aggregator to fold every event',
    async () => {
      const rows = await rollups();
      const total = rows.reduce((n, r) => n + r.samples, 0);
      return total === samples.length && rows.filter((r) => r.final).length === SERIES * WINDOWS ? true : undefined;
    },
    90_000,
    500,
  );
});

afterAll(async () => {
  await gateway?.stop();
  await aggregator?.stop();
  await ch.command(sql`DROP DATABASE IF EXISTS ${ident(database)}`).catch(() => undefined);
  await ch.close();
});

describe('cpu-mem-5min on Kafka and ClickHouse', () => {
  it('equals ClickHouse GROUP BY toStartOfFiveMinute over the raw events, row for row', async () => {
    const expected = await oracle();
    const actual = await rollups();
    expect(expected).toHaveLength(SERIES * (WINDOWS + 1));
    expect(actual.map(({ final: _f, ...r }) => r)).toEqual(expected);
    for (const r of actual) expect(r.final, `window ${r.ws} of ${r.ip}`).toBe(r.ws * 1000 < lastWindowStart);
  });

  it('serves the same rows over REST, page by page', async () => {
    const expected = await oracle();
    const seen: Row[] = [];
    let totalNum = -1;
    for (let page = 1; seen.length < expected.length && page < 20; page++) {
      const res = await fetch(`${base}/api/cpu-mem-5min?pageSize=7&pageNum=${page}`, { headers: appHeaders });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { errCode: number; data: { totalNum: number; rows: Array<Record<string, unknown>> } };
      expect(body.errCode).toBe(0);
      totalNum = body.data.totalNum;
      seen.push(
        ...body.data.rows.map((r) =>
          numeric({ ...r, ws: Date.parse(String(r['window_start'])) / 1000, cpu: r['cpu_usage_pct'], mempct: r['mem_usage_pct'] }),
        ),
      );
    }
    expect(totalNum).toBe(expected.length);
    expect(seen).toEqual(expected);
  });

  it('serves the same rows over GraphQL, filtered by host', async () => {
    const ip = samples[0]!.ip;
    const expected = (await oracle()).filter((r) => r.ip === ip);
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...appHeaders },
      body: JSON.stringify({
        query: `query($ip: String) { cpuMemRollups(filter: { ip: $ip }, pageSize: 100) {
          totalNum rows { windowStart ip pid mem cpuUsagePct memUsagePct samples final } } }`,
        variables: { ip },
      }),
    });
    const body = (await res.json()) as { data: { cpuMemRollups: { totalNum: number; rows: Array<Record<string, unknown>> } } };
    const page = body.data.cpuMemRollups;
    expect(page.totalNum).toBe(expected.length);
    expect(
      page.rows.map((r) => numeric({ ...r, ws: Date.parse(String(r['windowStart'])) / 1000, cpu: r['cpuUsagePct'], mempct: r['memUsagePct'] })),
    ).toEqual(expected);
  });

  it('rejects a bad parameter with 400 in the envelope', async () => {
    const res = await fetch(`${base}/api/cpu-mem-5min?pid=12x`, { headers: appHeaders });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ errCode: 1400, errMsg: expect.stringMatching(/^pid /), data: null });
  });

  it('reports every dependency of the gateway ready', async () => {
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ready', dependencies: { clickhouse: 'up', redis: 'up', mysql: 'up' } });
  });

  it('dead-letters the invalid events with their reason', async () => {
    const dead = await readDeadLetters(stack.KAFKA_BROKERS, `${topic}.dlq`, `${prefix}dlq-reader`, 2);
    // Keyless messages land on any partition, so dead letters arrive in no particular order.
    expect(dead.sort((a, b) => a.value.localeCompare(b.value))).toEqual(
      [
        { value: invalid[0]!, code: 'INVALID_EVENT', reason: 'pid: must be integer' },
        { value: invalid[1]!, code: 'INVALID_EVENT', reason: 'value is not valid JSON' },
      ].sort((a, b) => a.value.localeCompare(b.value)),
    );
  });

  it("exports the aggregator's metrics and readiness on its ops port", async () => {
    const opsUrl = /health and metrics on (http:\/\/\S+)\/metrics/.exec(aggregator.output())?.[1];
    expect(opsUrl, aggregator.output()).toBeDefined();
    expect((await fetch(`${opsUrl}/readyz`)).status).toBe(200);
    const text = await (await fetch(`${opsUrl}/metrics`)).text();
    const value = (pattern: string) => Number(new RegExp(`^${pattern} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    expect(value('rollgate_events_in_total\\{rollup="cpu-mem-5min"\\}')).toBe(samples.length + invalid.length);
    expect(value('rollgate_dead_letters_total\\{rollup="cpu-mem-5min",reason="schema"\\}')).toBe(1);
    expect(value('rollgate_dead_letters_total\\{rollup="cpu-mem-5min",reason="bad_json"\\}')).toBe(1);
    expect(value('rollgate_windows_closed_total\\{rollup="cpu-mem-5min"\\}')).toBeGreaterThanOrEqual(WINDOWS);
    expect(value('rollgate_sink_write_seconds_count\\{rollup="cpu-mem-5min",store="clickhouse"\\}')).toBeGreaterThan(0);
    expect(text).toMatch(/^rollgate_consumer_lag_messages\{rollup="cpu-mem-5min",partition="\d"\} 0$/m);
    expect(text).toMatch(/^rollgate_watermark_delay_seconds\{rollup="cpu-mem-5min",partition="\d"\} \d/m);
    expect(text).toMatch(/^rollgate_aggregator_waiting_for_sink\{rollup="cpu-mem-5min"\} 0$/m);
  });

  it('stops both processes cleanly on SIGTERM', async () => {
    expect(await gateway.stop('SIGTERM')).toBe(0);
    expect(await aggregator.stop('SIGTERM')).toBe(0);
    expect(aggregator.output()).not.toMatch(/"level":(50|60)/);
  });
});
