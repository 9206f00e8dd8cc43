import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webPv5min } from '../../aggregators/web-pv-5min.js';
import { AggregatorRunner } from '../../src/aggregation/runner.js';
import { loadConfig } from '../../src/config.js';
import { HLL_STANDARD_ERROR } from '../../src/core/hyperloglog.js';
import { ident, qualified, sql } from '../../src/core/sql-literal.js';
import { createGateway } from '../../src/http/server.js';
import { KafkaLog } from '../../src/ingest/kafka-log.js';
import { RawEventsSink } from '../../src/ingest/monitor/raw-events-sink.js';
import { Runtime } from '../../src/runtime.js';
import { ClickHouseStore } from '../../src/store/clickhouse-store.js';
import { ClickHouseWebEvents } from '../../src/store/web-events-table.js';
import { seeded, uniqueName } from '../helpers/events.js';
import { silentLogger } from '../helpers/gateway.js';
import { TEST_MASTER_KEY } from '../helpers/test-env.js';
import { stackEnv } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * 10,000 events in a burst over real HTTP to the collector on the real stack
 * (Kafka acks=all before each 204): every accepted event is in ClickHouse's raw
 * table exactly once and counted once in web-pv-5min, whose uv stays within
 * the HyperLogLog's error of ClickHouse's exact count.
 */
const stack = stackEnv();
const prefix = `${uniqueName('burst')}.`;
const database = uniqueName('rollgate_burst');
const APP = 'burst-app';
const EVENTS = 10_000;
const VISITORS = 3_000;
const CONCURRENCY = 64;

const env = {
  KAFKA_BROKERS: stack.KAFKA_BROKERS,
  CLICKHOUSE_URL: stack.CLICKHOUSE_URL,
  CLICKHOUSE_DATABASE: database,
  REDIS_URL: stack.REDIS_URL,
  TOPIC_PREFIX: prefix,
  LOG_LEVEL: 'silent',
  ROLLGATE_MASTER_KEY: TEST_MASTER_KEY,
  MONITOR_RATE_PER_IP: '1000000',
  MONITOR_RATE_PER_APP: '1000000',
};
const config = loadConfig(env);
const clickhouse = config.clickhouse!;
const ch = new ClickHouseStore(clickhouse);
let rt: Runtime;
let app: FastifyInstance;
let base: string;
let sink: RawEventsSink;
let runner: AggregatorRunner;
let log: KafkaLog;

beforeAll(async () => {
  rt = new Runtime(config, silentLogger);
  app = await createGateway({ config, logger: silentLogger, checks: rt.checks, metrics: rt.metrics, dataService: await rt.getDataService(), monitor: rt.getMonitorCollector() });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  log = new KafkaLog(config.kafka!, silentLogger);
  sink = new RawEventsSink({ log, writer: new ClickHouseWebEvents(clickhouse), topicPrefix: prefix, logger: silentLogger });
  await sink.start();
  runner = new AggregatorRunner({ spec: webPv5min, log, store: ch, logger: silentLogger, metrics: rt.metrics, flushMs: 500, idleMs: 5000, topicPrefix: prefix });
  await runner.start();
});

afterAll(async () => {
  await runner?.stop();
  await sink?.stop();
  await app?.close();
  await rt?.close();
  await log?.close();
  await ch.command(sql`DROP DATABASE IF EXISTS ${ident(database)}`).catch(() => undefined);
  await ch.close();
});

describe('collector burst', () => {
  it(`loses none of ${EVENTS} events: raw count and rollup pv equal the accepted count`, async () => {
    const random = seeded(11);
    const now = Date.now();
    const event = (i: number) => ({
      appId: APP,
      pageId: `page-${i % 4}`,
      eventType: i % 3 === 0 ? 'click' : 'pv',
      url: `https://burst.example/${i % 4}`,
      timestamp: now - Math.floor(random() * 5000),
      args: { uid: `visitor-${Math.floor(random() * VISITORS)}`, i },
    });
    // Half as single-event beacons, half in batches of 100.
    const requests: Array<{ body: string; events: number }> = [];
    for (let i = 0; i < EVENTS / 2; i++) requests.push({ body: JSON.stringify(event(i)), events: 1 });
    for (let i = EVENTS / 2; i < EVENTS; i += 100) requests.push({ body: JSON.stringify(Array.from({ length: 100 }, (_, k) => event(i + k))), events: 100 });

    let accepted = 0;
    const refused: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < requests.length) {
          const r = requests[next++]!;
          const res = await fetch(`${base}/monitor/upload`, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: r.body });
          await res.arrayBuffer();
          if (res.status === 204) accepted += r.events;
          else refused.push(res.status);
        }
      }),
    );
    expect(refused).toEqual([]);
    expect(accepted).toBe(EVENTS);

    const raw = qualified(database, 'web_events');
    const counts = await waitFor(
      'every accepted event in the raw table',
      async () => {
        const [row] = await ch.rows<Record<string, unknown>>(sql`SELECT count() AS n, uniqExact(event_id) AS ids FROM ${raw} FINAL WHERE app_id = ${APP}`);
        const n = Number(row?.['n']);
        return n >= accepted ? { n, ids: Number(row?.['ids']) } : undefined;
      },
      90_000,
      500,
    );
    expect(counts).toEqual({ n: accepted, ids: accepted });

    const rollup = qualified(database, 'web_pv_5min');
    const pv = await waitFor(
      'the rollup to count every accepted event',
      async () => {
        const [row] = await ch.rows<Record<string, unknown>>(sql`SELECT sum(pv) AS pv FROM ${rollup} FINAL WHERE app_id = ${APP}`);
        return Number(row?.['pv']) >= accepted ? Number(row?.['pv']) : undefined;
      },
      90_000,
      500,
    );
    expect(pv).toBe(accepted);

    // uv per (window, page, event type) against ClickHouse's exact distinct count over the raw table.
    const exact = await ch.rows<Record<string, unknown>>(sql`
      SELECT toUInt32(toStartOfFiveMinute(event_time)) AS ws, page_id, event_type, uniqExact(visitor_id) AS uv
      FROM ${raw} FINAL WHERE app_id = ${APP} GROUP BY ws, page_id, event_type`);
    const estimated = new Map(
      (
        await ch.rows<Record<string, unknown>>(sql`SELECT toUInt32(window_start) AS ws, page_id, event_type, uv FROM ${rollup} FINAL WHERE app_id = ${APP}`)
      ).map((r) => [`${String(r['ws'])}|${String(r['page_id'])}|${String(r['event_type'])}`, Number(r['uv'])]),
    );
    expect(estimated.size).toBe(exact.length);
    for (const r of exact) {
      const truth = Number(r['uv']);
      const estimate = estimated.get(`${String(r['ws'])}|${String(r['page_id'])}|${String(r['event_type'])}`);
      // 4 standard errors, or 3 visitors for small groups.
      expect(Math.abs((estimate ?? 0) - truth), `uv ${estimate} vs exact ${truth}`).toBeLessThanOrEqual(Math.max(3, 4 * HLL_STANDARD_ERROR * truth));
    }
  });
});
