import { createClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaLog } from '../../src/ingest/kafka-log.js';
import { procSamples, uniqueName } from '../helpers/events.js';
import { appHeaders, silentLogger, stackGateway } from '../helpers/gateway.js';
import { startRollgate, type RollgateProcess } from '../helpers/rollgate-process.js';
import { stackEnv } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The built-in cpu-mem-5min API while a real aggregator (its own process)
 * writes to ClickHouse: cached pages live ten minutes here, so only the
 * re-keying on every aggregator write can keep them current. After each
 * round of events the API must equal ClickHouse, row for row, at once; pages
 * read during the writes must be well-formed.
 */
const stack = stackEnv();
const prefix = `${uniqueName('dsc')}.`;
const database = uniqueName('ds_consistency').replace(/[^A-Za-z0-9_]/g, '_');
const topic = `${prefix}system_proc`;
const ch = createClient({ url: stack.CLICKHOUSE_URL });
const log = new KafkaLog({ brokers: stack.KAFKA_BROKERS.split(','), clientId: 'it' }, silentLogger);
const env = {
  KAFKA_BROKERS: stack.KAFKA_BROKERS,
  CLICKHOUSE_URL: stack.CLICKHOUSE_URL,
  CLICKHOUSE_DATABASE: database,
  REDIS_URL: stack.REDIS_URL,
  MYSQL_URL: stack.MYSQL_URL,
  TOPIC_PREFIX: prefix,
};
let aggregator: RollgateProcess;
let app: FastifyInstance;
let produced = 0;

const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 2 * 86_400_000;

type ApiRow = { window_start: string; ip: string; pid: number; cpu_usage_pct: number; samples: number; final: boolean };

async function store(): Promise<ApiRow[]> {
  const rows = (await (
    await ch.query({
      query: `SELECT toUInt32(window_start) AS ws, ip, pid, cpu_usage_pct, samples, final FROM ${database}.cpu_mem_5min FINAL
              ORDER BY window_start DESC, ip, pid`,
      format: 'JSONEachRow',
    })
  ).json()) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    window_start: new Date(Number(r['ws']) * 1000).toISOString(),
    ip: String(r['ip']),
    pid: Number(r['pid']),
    cpu_usage_pct: Number(r['cpu_usage_pct']),
    samples: Number(r['samples']),
    final: Number(r['final']) === 1,
  }));
}

async function api(url = '/api/cpu-mem-5min?pageSize=2000'): Promise<{ rows: ApiRow[]; totalNum: number; cache: string }> {
  const res = await app.inject({ url, headers: appHeaders });
  expect(res.statusCode, res.body).toBe(200);
  const data = res.json().data;
  return {
    rows: data.rows.map((r: ApiRow) => ({ window_start: r.window_start, ip: r.ip, pid: r.pid, cpu_usage_pct: r.cpu_usage_pct, samples: r.samples, final: r.final })),
    totalNum: data.totalNum,
    cache: String(res.headers['x-rollgate-cache']),
  };
}

/** Rounds an hour apart, so no round's events fall behind the watermark an earlier round left. */
async function produceRound(round: number): Promise<void> {
  const samples = procSamples({ seed: round, series: 5, windows: 3, startMs: T0 + round * 3600_000, stepMs: 30_000 });
  const producer = await log.producer();
  await producer.send(topic, samples.map((s) => ({ key: `${s.ip}:${s.pid}`, value: JSON.stringify(s) })));
  await producer.close();
  produced += samples.length;
}

async function quiescent(): Promise<void> {
  await waitFor(
    'the aggregator to write every event',
    async () => ((await store()).reduce((n, r) => n + r.samples, 0) === produced ? true : undefined),
    90_000,
    300,
  );
}

beforeAll(async () => {
  await log.ensureTopic(topic, 3);
  aggregator = startRollgate(['aggregate', 'cpu-mem-5min'], { ...env, AGGREGATOR_FLUSH_MS: '300', AGGREGATOR_IDLE_MS: '3600000', METRICS_PORT: '0' });
  await waitFor('the rollup table', async () => {
    const tables = (await (await ch.query({ query: `SELECT name FROM system.tables WHERE database = '${database}'`, format: 'JSONEachRow' })).json()) as unknown[];
    return tables.length > 0 ? true : undefined;
  });
  ({ app } = await stackGateway({ ...env, CACHE_ROLLUP_TTL_MS: '600000', CACHE_L1_TTL_MS: '60000' }));
});

afterAll(async () => {
  await app?.close();
  await aggregator?.stop();
  await log.close();
  await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
  await ch.close();
});

describe('the rollup API while the aggregator writes', () => {
  it('never serves a cached page that hides a newly written window', async () => {
    const empty = await api();
    expect(empty.rows).toEqual([]);
    for (let round = 1; round <= 3; round++) {
      await produceRound(round);
      await quiescent();
      const served = await api();
      expect(served.rows).toEqual(await store());
      expect(served.totalNum).toBe(served.rows.length);
      // Nothing written since: now the page comes from the cache.
      expect(['hit', 'hit-l1']).toContain((await api()).cache);
    }
  });

  it('serves well-formed pages during writes: no key twice, newest first, totals that cover the page', async () => {
    const reading = (async () => {
      const seen: number[] = [];
      for (let i = 0; i < 40; i++) {
        for (const page of [1, 2, 3]) {
          const { rows, totalNum } = await api(`/api/cpu-mem-5min?pageSize=10&pageNum=${page}`);
          const keys = rows.map((r) => `${r.window_start}|${r.ip}|${r.pid}`);
          expect(new Set(keys).size).toBe(keys.length);
          const starts = rows.map((r) => r.window_start);
          expect(starts).toEqual([...starts].sort().reverse());
          expect(totalNum).toBeGreaterThanOrEqual((page - 1) * 10 + rows.length);
          seen.push(totalNum);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      return seen;
    })();
    for (let round = 4; round <= 6; round++) await produceRound(round);
    const totals = await reading;
    await quiescent();
    expect((await api()).rows).toEqual(await store());
    // The reads really overlapped the writes.
    expect(new Set(totals).size).toBeGreaterThan(1);
  });
});
