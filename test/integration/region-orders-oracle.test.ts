import { createClient, type ClickHouseClient } from '@clickhouse/client';
import mysql, { type Pool, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/demo/metrics-producer.js';
import { CITIES } from '../../src/demo/orders-generator.js';
import { ensureOrdersSource } from '../../src/demo/orders-source.js';
import { uniqueName } from '../helpers/events.js';
import { stackGateway, appHeaders } from '../helpers/gateway.js';
import { startRollgate, type RollgateProcess } from '../helpers/rollgate-process.js';
import { stackEnv } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The judge of issue 4: a randomized workload of inserts, updates (revenue,
 * region, customer, create_time, even the primary key) and deletes on the
 * MySQL source, orders and customers, with customers that arrive after their
 * orders and a customer -1; `rollgate cdc` and `rollgate aggregate
 * region-orders` run as CLI processes and are each SIGKILLed and restarted
 * mid-workload, and a second aggregator joins and leaves the group. At quiescence the totals and the trend served by the built-in
 * APIs must equal MySQL's own GROUP BY over the join, to the cent.
 *
 * To the cent: order_revenue is a FLOAT, so MySQL's SUM(order_revenue) adds
 * float32 values in double precision and drifts. The oracle is MySQL's exact
 * sum of each FLOAT rounded to cents, SUM(CAST(order_revenue AS
 * DECIMAL(20,2))), which is what rollgate maintains (see
 * src/core/region-orders.ts).
 */
const stack = stackEnv();
const database = uniqueName('rollgate_ro');
const prefix = `${uniqueName('ro')}.`;
const mysqlUrl = `${stack.MYSQL_URL.replace(/\/[^/]*$/, '')}/${database}`;
const chDatabase = uniqueName('rollgate_ro_detail');
let clickhouse: ClickHouseClient;
const REGIONS = CITIES.slice(0, 8);
const BASE_MS = Date.UTC(2026, 10, 24, 6, 0, 0);
let pool: Pool;
let cdc: RollgateProcess | undefined;
let aggregator: RollgateProcess | undefined;
let gateway: { app: FastifyInstance } | undefined;

const env = { KAFKA_BROKERS: stack.KAFKA_BROKERS, MYSQL_URL: mysqlUrl, TOPIC_PREFIX: prefix, METRICS_PORT: '0', LOG_LEVEL: 'info' };
const startCdc = () => startRollgate(['cdc'], env);
const startAggregator = () => startRollgate(['aggregate', 'region-orders'], { ...env, CLICKHOUSE_URL: stack.CLICKHOUSE_URL, CLICKHOUSE_DATABASE: chDatabase });

async function ready(proc: RollgateProcess, pattern: RegExp): Promise<void> {
  await waitFor(
    `${pattern.source}`,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`exited ${proc.child.exitCode}:\n${proc.output()}`);
      return pattern.test(proc.output()) ? true : undefined;
    },
    90_000,
  );
}

const exec = async (sql: string, params: unknown[] = []) => (await pool.query<ResultSetHeader>(sql, params))[0];
const select = async (sql: string, params: unknown[] = []) => (await pool.query<RowDataPacket[]>(sql, params))[0];
const db = `\`${database}\``;

/** MySQL's own answers. */
async function oracleTotals(): Promise<Array<[string, number, string]>> {
  const rows = await select(
    `SELECT o.order_region AS r, count(*) AS n, SUM(CAST(o.order_revenue AS DECIMAL(20,2))) AS s
     FROM ${db}.orders o JOIN ${db}.customers c ON c.id = o.customer_id WHERE c.id <> -1 GROUP BY o.order_region ORDER BY o.order_region`,
  );
  return rows.map((r) => [String(r['r']), Number(r['n']), String(r['s'])]);
}

async function oracleTrend(): Promise<Array<[number, string, number, string]>> {
  const rows = await select(
    `SELECT FLOOR(UNIX_TIMESTAMP(o.create_time) / 300) * 300 AS w, o.order_region AS r, count(*) AS n, SUM(CAST(o.order_revenue AS DECIMAL(20,2))) AS s
     FROM ${db}.orders o JOIN ${db}.customers c ON c.id = o.customer_id WHERE c.id <> -1
     GROUP BY FLOOR(UNIX_TIMESTAMP(o.create_time) / 300), o.order_region ORDER BY w, r`,
  );
  return rows.map((r) => [Number(r['w']) * 1000, String(r['r']), Number(r['n']), String(r['s'])]);
}

/** The detail table's rows as MySQL's join has them: (order, exact cents, region, create_time s, customer, age, name, gender). */
async function oracleDetail(): Promise<string[]> {
  const rows = await select(
    `SELECT o.order_id AS id, CAST(o.order_revenue AS DECIMAL(20,2)) AS s, o.order_region AS r, UNIX_TIMESTAMP(o.create_time) AS t,
            c.id AS cid, c.age AS age, c.name AS name, c.gender AS gender
     FROM ${db}.orders o JOIN ${db}.customers c ON c.id = o.customer_id WHERE c.id <> -1`,
  );
  return rows.map((r) => JSON.stringify([Number(r['id']), String(r['s']).replace('.', '').replace(/^(-?)0+(?=\d)/, '$1'), r['r'], Number(r['t']), Number(r['cid']), Number(r['age'] ?? 0), r['name'] ?? '', r['gender'] ?? ''])).sort();
}

async function servedDetail(): Promise<string[]> {
  const result = await clickhouse.query({
    query: `SELECT order_id, toString(order_revenue_cents) AS s, order_region, toUInt32(create_time) AS t, customer_id, customer_age, customer_name, customer_gender
            FROM \`${chDatabase}\`.dwd_order_customer_valid FINAL WHERE is_deleted = 0`,
    format: 'JSONEachRow',
  });
  const rows = await result.json<Record<string, unknown>>();
  return rows.map((r) => JSON.stringify([Number(r['order_id']), String(r['s']), r['order_region'], Number(r['t']), Number(r['customer_id']), Number(r['customer_age']), r['customer_name'], r['customer_gender']])).sort();
}

interface Envelope<T> {
  errCode: number;
  data: { rows: T[] };
}

async function servedTotals(): Promise<Array<[string, number, string]>> {
  const res = await gateway!.app.inject({ method: 'GET', headers: appHeaders, url: '/api/region-order-totals' });
  const body = res.json<Envelope<{ order_region: string; order_cnt: number; order_total_revenue: number }>>();
  expect(body.errCode).toBe(0);
  return body.data.rows.map((r) => [r.order_region, r.order_cnt, r.order_total_revenue.toFixed(2)]);
}

async function servedTrend(): Promise<Array<[number, string, number, string]>> {
  const res = await gateway!.app.inject({ method: 'GET', headers: appHeaders, url: '/api/region-order-trend' });
  const body = res.json<Envelope<{ window_start: string; order_region: string; order_cnt: number; order_total_revenue: number }>>();
  expect(body.errCode).toBe(0);
  return body.data.rows.map((r) => [Date.parse(r.window_start), r.order_region, r.order_cnt, r.order_total_revenue.toFixed(2)]);
}

/** MySQL's collation orders regions its way; compare as sets of rows. */
const sorted = <T>(rows: T[]) => rows.map((r) => JSON.stringify(r)).sort();

beforeAll(async () => {
  pool = mysql.createPool({ uri: stack.MYSQL_URL, connectionLimit: 4, charset: 'utf8mb4', timezone: 'Z' });
  pool.on('connection', (conn) => {
    conn.query("SET time_zone = '+00:00'");
  });
  clickhouse = createClient({ url: stack.CLICKHOUSE_URL });
  await ensureOrdersSource(pool, database);
  await exec(`INSERT INTO ${db}.customers (id, name, age, gender) VALUES (-1, 'nobody', 0, 'Male')`);
  gateway = await stackGateway({ MYSQL_URL: mysqlUrl, TOPIC_PREFIX: prefix, CACHE_TTL_MS: '0', CACHE_ROLLUP_TTL_MS: '0' });
});

afterAll(async () => {
  await aggregator?.stop('SIGTERM');
  await cdc?.stop('SIGTERM');
  await gateway?.app.close();
  await pool?.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await pool?.end();
  await clickhouse?.command({ query: `DROP DATABASE IF EXISTS \`${chDatabase}\`` });
  await clickhouse?.close();
});

describe('region-orders against MySQL’s own GROUP BY', () => {
  it('serves totals and trend equal to the join, to the cent, after a random workload with kill -9 of cdc and the aggregator', async () => {
    const random = seededRandom(Number(process.env['RO_SEED'] ?? 20261124));
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    // Cents, plus some 3-decimal amounts whose float32 sits just below or on a half-cent.
    const revenue = () => (random() < 0.8 ? Math.floor(random() * 10_000_000) / 100 : Math.floor(random() * 100_000) / 1000);
    const createTime = () => new Date(BASE_MS + Math.floor(random() * 3 * 3600) * 1000).toISOString().slice(0, 19).replace('T', ' ');
    // Customers 1..100 exist; 101..115 arrive later (after orders that name them); -1 never counts.
    const customerIds = [-1, ...Array.from({ length: 115 }, (_, i) => i + 1)];
    const live: number[] = [];
    const stats = { inserts: 0, updates: 0, deletes: 0, customerChanges: 0, pkChanges: 0 };

    const step = async () => {
      const dice = random();
      if (dice < 0.4 || live.length < 10) {
        const n = 1 + Math.floor(random() * 3);
        const rows = Array.from({ length: n }, () => [revenue(), pick(REGIONS), pick(customerIds), createTime()]);
        const r = await exec(`INSERT INTO ${db}.orders (order_revenue, order_region, customer_id, create_time) VALUES ?`, [rows]);
        for (let i = 0; i < r.affectedRows; i++) live.push(r.insertId + i);
        stats.inserts += r.affectedRows;
      } else if (dice < 0.75) {
        const id = pick(live);
        const what = random();
        const [column, value] =
          what < 0.3
            ? ['order_revenue', revenue()]
            : what < 0.55
              ? ['order_region', pick(REGIONS)]
              : what < 0.85
                ? ['customer_id', pick(customerIds)]
                : ['create_time', createTime()];
        await exec(`UPDATE ${db}.orders SET ${column} = ? WHERE order_id = ?`, [value, id]);
        stats.updates += 1;
      } else if (dice < 0.87) {
        const id = live.splice(Math.floor(random() * live.length), 1)[0]!;
        await exec(`DELETE FROM ${db}.orders WHERE order_id = ?`, [id]);
        stats.deletes += 1;
      } else if (dice < 0.89) {
        // A primary-key change: CDC sends a delete and a create.
        const i = Math.floor(random() * live.length);
        const newId = 1_000_000 + Math.floor(random() * 1_000_000);
        const r = await exec(`UPDATE IGNORE ${db}.orders SET order_id = ? WHERE order_id = ?`, [newId, live[i]]);
        if (r.affectedRows === 1) {
          live[i] = newId;
          stats.pkChanges += 1;
        }
      } else {
        // Customers come and go: deletes, late arrivals, comebacks; in a transaction with an order now and then.
        const id = pick(customerIds.filter((c) => c !== -1));
        const conn = await pool.getConnection();
        try {
          await conn.beginTransaction();
          const [exists] = await conn.query<RowDataPacket[]>(`SELECT id FROM ${db}.customers WHERE id = ? FOR UPDATE`, [id]);
          // The detail table carries the customer's columns: an update must reach every order of the customer.
          if (exists.length > 0 && random() < 0.4) await conn.query(`UPDATE ${db}.customers SET age = age + 1, name = CONCAT(name, '+') WHERE id = ?`, [id]);
          else if (exists.length > 0) await conn.query(`DELETE FROM ${db}.customers WHERE id = ?`, [id]);
          else await conn.query(`INSERT INTO ${db}.customers (id, name, age, gender) VALUES (?, 'late', 30, 'Female')`, [id]);
          if (random() < 0.5) {
            const [r] = await conn.query<ResultSetHeader>(`INSERT INTO ${db}.orders (order_revenue, order_region, customer_id, create_time) VALUES (?, ?, ?, ?)`, [
              revenue(),
              pick(REGIONS),
              id,
              createTime(),
            ]);
            live.push(r.insertId);
            stats.inserts += 1;
          }
          await conn.commit();
          stats.customerChanges += 1;
        } finally {
          conn.release();
        }
      }
    };
    const run = async (steps: number) => {
      for (let i = 0; i < steps; i++) await step();
    };

    // Some history before CDC starts: it arrives as the snapshot.
    await run(150);
    cdc = startCdc();
    await ready(cdc, /rollgate cdc: health and metrics on/);
    aggregator = startAggregator();
    await ready(aggregator, /rollgate aggregate region-orders: health and metrics on/);
    await run(300);

    // kill -9 the aggregator mid-stream, keep writing, restart it.
    const writing = run(400);
    await new Promise((r) => setTimeout(r, 700));
    expect(await aggregator.stop('SIGKILL')).toBeNull();
    await writing;
    aggregator = startAggregator();
    await ready(aggregator, /rollgate aggregate region-orders: health and metrics on/);

    // A second aggregator joins the group (a rebalance: the two topics are split between them), then
    // CDC is killed -9 mid-stream while both consume; the second one leaves again (another rebalance).
    const second = startAggregator();
    await ready(second, /rollgate aggregate region-orders: health and metrics on/);
    const writing2 = run(400);
    await new Promise((r) => setTimeout(r, 700));
    expect(await cdc.stop('SIGKILL')).toBeNull();
    await writing2;
    await run(100);
    cdc = startCdc();
    await ready(cdc, /rollgate cdc: health and metrics on/);
    await run(200);
    expect(await second.stop('SIGTERM')).toBe(0);

    // Both killed while busy, the aggregator again right after CDC is back.
    const writing3 = run(300);
    await new Promise((r) => setTimeout(r, 500));
    expect(await aggregator.stop('SIGKILL')).toBeNull();
    aggregator = startAggregator();
    await writing3;
    await ready(aggregator, /rollgate aggregate region-orders: health and metrics on/);

    const expectedTotals = await oracleTotals();
    const expectedTrend = await oracleTrend();
    expect(expectedTotals.length).toBeGreaterThan(3);
    // Quiescence: no more writes; wait for the served results to stop differing.
    const quietAt = Date.now();
    await waitFor(
      'served totals to equal MySQL',
      async () => (JSON.stringify(sorted(await servedTotals())) === JSON.stringify(sorted(expectedTotals)) ? true : undefined),
      120_000,
      500,
    ).catch(() => undefined);
    const convergedMs = Date.now() - quietAt;
    expect(sorted(await servedTotals())).toEqual(sorted(expectedTotals));
    expect(sorted(await servedTrend())).toEqual(sorted(expectedTrend));

    // The enriched detail in ClickHouse (FINAL, not deleted) is MySQL's join, row by row.
    const expectedDetail = await oracleDetail();
    await waitFor('the detail table to equal the join', async () => (JSON.stringify(await servedDetail()) === JSON.stringify(expectedDetail) ? true : undefined), 60_000, 500).catch(
      () => undefined,
    );
    expect(await servedDetail()).toEqual(expectedDetail);

    // GraphQL reads the same through the built-in API.
    const gql = await gateway!.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: appHeaders,
      payload: { query: '{ regionOrderTotals { region orderCnt orderTotalRevenueDecimal } }' },
    });
    const data = gql.json<{ data: { regionOrderTotals: Array<{ region: string; orderCnt: number; orderTotalRevenueDecimal: string }> } }>().data;
    expect(sorted(data.regionOrderTotals.map((r) => [r.region, r.orderCnt, r.orderTotalRevenueDecimal]))).toEqual(sorted(expectedTotals));
    const region = expectedTrend[0]![1];
    const from = new Date(BASE_MS + 3600_000).toISOString();
    const to = new Date(BASE_MS + 2 * 3600_000).toISOString();
    const trendGql = await gateway!.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: appHeaders,
      payload: { query: `{ regionOrderTrend(region: ${JSON.stringify(region)}, from: "${from}", to: "${to}") { windowStart region orderCnt orderTotalRevenueDecimal } }` },
    });
    const points = trendGql.json<{ data: { regionOrderTrend: Array<{ windowStart: string; region: string; orderCnt: number; orderTotalRevenueDecimal: string }> } }>().data
      .regionOrderTrend;
    expect(sorted(points.map((p) => [Date.parse(p.windowStart), p.region, p.orderCnt, p.orderTotalRevenueDecimal]))).toEqual(
      sorted(expectedTrend.filter(([w, r]) => r === region && w >= Date.parse(from) && w < Date.parse(to))),
    );

    // How far MySQL's float SUM drifts from the exact cents, for the record.
    const drift = await select(
      `SELECT MAX(ABS(f - e)) AS d FROM (SELECT SUM(o.order_revenue) AS f, SUM(CAST(o.order_revenue AS DECIMAL(20,2))) AS e
       FROM ${db}.orders o JOIN ${db}.customers c ON c.id = o.customer_id WHERE c.id <> -1 GROUP BY o.order_region) x`,
    );
    if (process.env['RO_TEST_VERBOSE'] === '1') {
      const retries = (aggregator.output().match(/failed; retrying/g) ?? []).length;
      process.stderr.write(
        `workload ${JSON.stringify(stats)}, ${expectedTotals.length} regions, ${expectedTrend.length} trend rows, float SUM drift ${String(drift[0]?.['d'])}, ` +
          `totals equal ${convergedMs} ms after the last write, store retries in the last aggregator ${retries}\n`,
      );
    }
    expect(stats.pkChanges + stats.customerChanges + stats.deletes).toBeGreaterThan(0);
  }, 300_000);
});
