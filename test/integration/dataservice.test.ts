import { createClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../aggregators/cpu-mem-5min.js';
import { ClickHouseStore } from '../../src/store/clickhouse-store.js';
import { seeded, uniqueName } from '../helpers/events.js';
import { adminHeaders, appHeaders, stackGateway } from '../helpers/gateway.js';
import { stackEnv } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Published APIs on the real ClickHouse and MySQL: wizard and script mode on
 * each, paged through and compared with the store's own query over the same
 * rows, plus the failure kinds a caller can cause.
 */
const stack = stackEnv();
const database = uniqueName('ds_it').replace(/[^A-Za-z0-9_]/g, '_');
const mysqlBase = new URL(stack.MYSQL_URL);
const ch = createClient({ url: stack.CLICKHOUSE_URL });
let my: mysql.Connection;
let app: FastifyInstance;

const HOSTS = ['web-1', 'web-2', 'db-1', "o'brien", 'x%y_z'];
const REGIONS = ['north', 'south', 'east', 'west'];
const T0 = Date.UTC(2026, 10, 20, 0, 0, 0);

const admin = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
  app.inject({ method, url, headers: adminHeaders, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });

async function publish(definition: Record<string, unknown>): Promise<void> {
  const created = await admin('POST', '/admin/apis', definition);
  expect(created.statusCode, created.body).toBe(201);
  const published = await admin('POST', `/admin/apis/${created.json().data.id}/publish`);
  expect(published.statusCode, published.body).toBe(200);
}

// The envelope's data is whatever the API returns; tests read into it freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = { errCode: number; errMsg: string; data: any };

async function call(url: string): Promise<{ status: number; body: Body; headers: Record<string, unknown> }> {
  const res = await app.inject({ url, headers: appHeaders });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}

async function allPages(path: string, pageSize: number): Promise<{ rows: Array<Record<string, unknown>>; totalNum: number }> {
  const rows: Array<Record<string, unknown>> = [];
  let totalNum = -1;
  for (let page = 1; ; page++) {
    const res = await call(`${path}${path.includes('?') ? '&' : '?'}pageNum=${page}&pageSize=${pageSize}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    totalNum = res.body.data.totalNum;
    rows.push(...res.body.data.rows);
    if (res.body.data.rows.length < pageSize) break;
  }
  return { rows, totalNum };
}

const chRows = async (query: string) => (await (await ch.query({ query, format: 'JSONEachRow' })).json()) as Array<Record<string, unknown>>;

beforeAll(async () => {
  const random = seeded(11);
  await ch.command({ query: `CREATE DATABASE ${database}` });
  await ch.command({ query: `CREATE TABLE ${database}.metrics (ts DateTime, host String, cpu Float64, n UInt64) ENGINE = MergeTree() ORDER BY (host, ts)` });
  const metrics = Array.from({ length: 400 }, (_, i) => ({
    ts: Math.floor((T0 + i * 137_000) / 1000),
    host: HOSTS[Math.floor(random() * HOSTS.length)],
    cpu: Math.round(random() * 10_000) / 100,
    n: i === 0 ? '18446744073709551615' : String(Math.floor(random() * 1e9)),
  }));
  await ch.insert({ table: `${database}.metrics`, values: metrics, format: 'JSONEachRow' });

  my = await mysql.createConnection({ host: mysqlBase.hostname, port: Number(mysqlBase.port || 3306), user: decodeURIComponent(mysqlBase.username) });
  await my.query(`CREATE DATABASE ${database}`);
  await my.query(
    `CREATE TABLE ${database}.orders (id BIGINT PRIMARY KEY, region VARCHAR(32) NOT NULL, revenue DECIMAL(12,2) NOT NULL, created DATETIME NOT NULL, paid TINYINT(1) NOT NULL)`,
  );
  const orders = Array.from({ length: 250 }, (_, i) => [
    i + 1,
    REGIONS[Math.floor(random() * REGIONS.length)],
    (Math.floor(random() * 1_000_000) / 100).toFixed(2),
    new Date(T0 + i * 311_000).toISOString().slice(0, 19).replace('T', ' '),
    random() < 0.6 ? 1 : 0,
  ]);
  await my.query(`INSERT INTO ${database}.orders VALUES ?`, [orders]);

  ({ app } = await stackGateway({
    CLICKHOUSE_URL: stack.CLICKHOUSE_URL,
    CLICKHOUSE_DATABASE: database,
    MYSQL_URL: `${stack.MYSQL_URL.replace(/\/[^/]*$/, '')}/${database}`,
    REDIS_URL: stack.REDIS_URL,
    CACHE_TTL_MS: '60000',
  }));

  for (const source of [
    { name: 'it_ch', kind: 'clickhouse', url: stack.CLICKHOUSE_URL, database },
    { name: 'it_my', kind: 'mysql', host: mysqlBase.hostname, port: Number(mysqlBase.port || 3306), user: decodeURIComponent(mysqlBase.username), password: '', database },
  ]) {
    const res = await admin('POST', '/admin/datasources', source);
    expect(res.statusCode, res.body).toBe(201);
    expect((await admin('POST', `/admin/datasources/${source.name}/test`)).json().data.ok).toBe(true);
  }

  await publish({
    mode: 'wizard',
    name: 'ch_metrics',
    path: '/it/ch/metrics',
    dataSource: 'it_ch',
    table: 'metrics',
    requestParams: [
      { name: 'host', column: 'host', type: 'STRING', operator: 'in' },
      { name: 'from', column: 'ts', type: 'DATETIME', operator: '>=' },
      { name: 'minCpu', column: 'cpu', type: 'DOUBLE', operator: '>=' },
    ],
    responseParams: [
      { column: 'ts', type: 'DATETIME' },
      { column: 'host', type: 'STRING' },
      { column: 'cpu', type: 'DOUBLE' },
      { column: 'n', type: 'LONG' },
    ],
    sort: [{ column: 'cpu', order: 'DESC' }],
  });
  await publish({
    mode: 'script',
    name: 'ch_host_peaks',
    path: '/it/ch/peaks',
    dataSource: 'it_ch',
    script: `SELECT host, max(cpu) AS max_cpu, count(*) AS samples
             FROM metrics WHERE cpu >= {{minCpu}} [[AND host = {{host}}]]
             GROUP BY host ORDER BY host`,
    requestParams: [
      { name: 'minCpu', type: 'DOUBLE', required: true },
      { name: 'host', type: 'STRING' },
    ],
    responseParams: [{ column: 'samples', type: 'LONG' }],
  });
  await publish({
    mode: 'wizard',
    name: 'my_orders',
    path: '/it/my/orders',
    method: 'POST',
    dataSource: 'it_my',
    table: 'orders',
    requestParams: [
      { name: 'region', column: 'region', type: 'STRING', operator: 'in' },
      { name: 'revenue', column: 'revenue', type: 'DOUBLE', operator: 'between' },
      { name: 'since', column: 'created', type: 'DATETIME', operator: '>=' },
      { name: 'paid', column: 'paid', type: 'BOOLEAN', operator: '=' },
    ],
    responseParams: [
      { column: 'id', type: 'LONG' },
      { column: 'region', type: 'STRING' },
      // Money stays exact as the string MySQL gives.
      { column: 'revenue', type: 'STRING' },
      { column: 'created', type: 'DATETIME', dateFormat: 'yyyy-MM-dd HH:mm:ss' },
      { column: 'paid', type: 'BOOLEAN' },
    ],
    sort: [{ column: 'created', order: 'DESC' }],
  });
  await publish({
    mode: 'script',
    name: 'my_region_totals',
    path: '/it/my/regions',
    dataSource: 'it_my',
    script: 'SELECT region, COUNT(*) AS orders, SUM(revenue) AS revenue FROM orders [[WHERE paid = {{paid}}]] GROUP BY region ORDER BY region',
    requestParams: [{ name: 'paid', type: 'BOOLEAN' }],
    pagination: false,
  });
});

afterAll(async () => {
  await app?.close();
  await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  await ch.close();
  await my?.query(`DROP DATABASE IF EXISTS ${database}`);
  await my?.end();
});

describe('wizard API over ClickHouse', () => {
  it('pages through exactly the rows ClickHouse selects, in one stable order', async () => {
    const { rows, totalNum } = await allPages(`/api/it/ch/metrics?host=web-1,o'brien&minCpu=20`, 37);
    const oracle = await chRows(
      `SELECT toUInt32(ts) AS ts, host, cpu, toString(n) AS n FROM ${database}.metrics WHERE host IN ('web-1', 'o\\'brien') AND cpu >= 20`,
    );
    expect(totalNum).toBe(oracle.length);
    const key = (r: Record<string, unknown>) => `${r['ts']}|${r['host']}|${r['cpu']}|${r['n']}`;
    expect(rows.map((r) => key({ ...r, ts: Date.parse(String(r['ts'])) / 1000 })).sort()).toEqual(oracle.map(key).sort());
    const cpus = rows.map((r) => Number(r['cpu']));
    expect(cpus).toEqual([...cpus].sort((a, b) => b - a));
  });

  it('keeps 64-bit integers exact', async () => {
    const res = await call(`/api/it/ch/metrics?from=${new Date(T0).toISOString()}&pageSize=2000`);
    expect(res.body.data.rows.map((r: { n: unknown }) => r.n)).toContain('18446744073709551615');
  });

  it('answers a repeat from the cache, and says so', async () => {
    const url = '/api/it/ch/metrics?host=db-1&pageSize=5';
    const first = await call(url);
    const second = await call(url);
    expect(first.headers['x-rollgate-cache']).toBe('miss');
    expect(['hit', 'hit-l1']).toContain(second.headers['x-rollgate-cache']);
    expect(second.body.data).toEqual(first.body.data);
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/rollgate_dataservice_cache_total\{result="miss"\} \d+/);
    expect(metrics).toMatch(/rollgate_dataservice_cache_total\{result="hit(-l1)?"\} \d+/);
  });
});

describe('script API over ClickHouse', () => {
  it('matches GROUP BY in ClickHouse, with and without the optional clause', async () => {
    const oracle = await chRows(`SELECT host, max(cpu) AS max_cpu, count() AS samples FROM ${database}.metrics WHERE cpu >= 50 GROUP BY host ORDER BY host`);
    const all = await allPages('/api/it/ch/peaks?minCpu=50', 2);
    expect(all.totalNum).toBe(HOSTS.length);
    expect(all.rows).toEqual(oracle.map((r) => ({ host: r['host'], max_cpu: r['max_cpu'], samples: Number(r['samples']) })));
    const one = await call(`/api/it/ch/peaks?minCpu=50&host=${encodeURIComponent("o'brien")}`);
    expect(one.body.data.rows).toEqual(all.rows.filter((r) => r['host'] === "o'brien"));
  });

  it('says which required parameter is missing', async () => {
    const res = await call('/api/it/ch/peaks');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ errCode: 1410, data: null });
    expect(res.body.errMsg).toContain('minCpu');
  });
});

describe('wizard API over MySQL (POST)', () => {
  it('takes parameters from the JSON body and returns MySQL rows, money exact', async () => {
    const res = await app.inject({
      method: 'POST',
      headers: appHeaders,
      url: '/api/it/my/orders?pageSize=1000',
      payload: { region: ['north', 'east'], revenue: [100, 5000.5], paid: true },
    });
    expect(res.statusCode, res.body).toBe(200);
    const [oracle] = await my.query<mysql.RowDataPacket[]>(
      `SELECT id, region, revenue, DATE_FORMAT(created, '%Y-%m-%d %H:%i:%s') AS created, paid FROM ${database}.orders
       WHERE region IN ('north', 'east') AND revenue BETWEEN 100 AND 5000.5 AND paid = 1 ORDER BY created DESC, id`,
    );
    const data = res.json().data;
    expect(data.totalNum).toBe(oracle.length);
    expect(data.rows).toEqual(oracle.map((o) => ({ id: Number(o['id']), region: o['region'], revenue: String(o['revenue']), created: o['created'], paid: true })));
  });

  it('refuses GET on a POST API with 405', async () => {
    const res = await call('/api/it/my/orders');
    expect(res.status).toBe(405);
    expect(res.body.errCode).toBe(1405);
  });

  it('refuses a body over the limit with 413', async () => {
    const res = await app.inject({ method: 'POST', headers: appHeaders, url: '/api/it/my/orders', payload: { region: ['x'.repeat(2 * 1024 * 1024)] } });
    expect(res.statusCode).toBe(413);
    expect(res.json().errCode).toBe(1413);
  });
});

describe('script API over MySQL without pagination', () => {
  it('returns SUM over DECIMAL exactly as MySQL computes it', async () => {
    const res = await call('/api/it/my/regions?paid=true');
    const [oracle] = await my.query<mysql.RowDataPacket[]>(
      `SELECT region, COUNT(*) AS orders, SUM(revenue) AS revenue FROM ${database}.orders WHERE paid = 1 GROUP BY region ORDER BY region`,
    );
    expect(res.body.data).toEqual({
      rows: oracle.map((o) => ({ region: o['region'], orders: Number(o['orders']), revenue: String(o['revenue']) })),
      truncated: false,
      rowLimit: 2000,
    });
  });

  it('answers DataV mode with the bare array', async () => {
    const res = await call('/api/it/my/regions?format=datav');
    expect(Array.isArray(res.body)).toBe(true);
    expect((res.body as unknown as unknown[]).length).toBe(REGIONS.length);
  });
});

describe('limits', () => {
  it('cuts an unpaged API at its row limit and flags the cut', async () => {
    await publish({
      mode: 'wizard',
      name: 'ch_capped',
      path: '/it/ch/capped',
      dataSource: 'it_ch',
      table: 'metrics',
      pagination: false,
      maxRows: 10,
      responseParams: [{ column: 'host', type: 'STRING' }, { column: 'ts', type: 'DATETIME' }],
    });
    const res = await call('/api/it/ch/capped');
    expect(res.body.data.rows).toHaveLength(10);
    expect(res.body.data).toMatchObject({ truncated: true, rowLimit: 10 });
  });

  it.each([
    // Script APIs may not call sleep() or read system.numbers; an operator can still publish such SQL as a view.
    ['ClickHouse', 'it_ch', () => ch.command({ query: `CREATE VIEW ${database}.slow AS SELECT sum(number) AS s FROM system.numbers` })],
    ['MySQL', 'it_my', () => my.query(`CREATE VIEW ${database}.slow AS SELECT SLEEP(5) AS s FROM ${database}.orders WHERE id = 1`)],
  ])('stops a %s query at the API timeout with 504 and errCode 1504', async (_store, dataSource, createView) => {
    await createView();
    const path = `/it/slow/${dataSource}`;
    await publish({ mode: 'script', name: `slow_${dataSource}`, path, dataSource, script: 'SELECT s FROM slow', pagination: false, timeoutMs: 500 });
    const res = await call(`/api${path}`);
    expect(res.status).toBe(504);
    expect(res.body.errCode).toBe(1504);
  });

  it.each([
    ['minCpu=abc', 1400, 'minCpu'],
    ['minCpu=1e999', 1400, 'minCpu'],
    ['from=2026-13-01', 1400, 'from'],
    ['host=a&host=b&pageSize=0', 1400, 'pageSize'],
    ['hots=web-1', 1400, 'hots'],
    ['pageSize=2001', 1400, 'pageSize'],
  ])('rejects %s with errCode %i naming %s', async (qs, errCode, field) => {
    const res = await call(`/api/it/ch/metrics?${qs}`);
    expect(res.status).toBe(400);
    expect(res.body.errCode).toBe(errCode);
    expect(res.body.errMsg).toContain(field);
  });
});

describe('a cache outage', () => {
  it('costs speed only: with Redis unreachable, calls read the store', async () => {
    const rollupStore = new ClickHouseStore({ url: stack.CLICKHOUSE_URL, database, user: 'default', password: '' });
    await rollupStore.ensureTable(cpuMem5min);
    await rollupStore.close();
    const { app: cacheless } = await stackGateway({
      CLICKHOUSE_URL: stack.CLICKHOUSE_URL,
      CLICKHOUSE_DATABASE: database,
      MYSQL_URL: `${stack.MYSQL_URL.replace(/\/[^/]*$/, '')}/${database}`,
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    try {
      const first = await cacheless.inject({ headers: appHeaders, url: '/api/it/ch/metrics?host=db-1&pageSize=5' });
      expect(first.statusCode, first.body).toBe(200);
      expect(first.json().data.rows.length).toBeGreaterThan(0);
      expect(first.headers['x-rollgate-cache']).toBe('bypass');
      // Rollup results are never cached while write announcements cannot be heard.
      for (let i = 0; i < 2; i++) {
        const rollup = await cacheless.inject({ headers: appHeaders, url: '/api/cpu-mem-5min' });
        expect(rollup.statusCode, rollup.body).toBe(200);
        expect(rollup.headers['x-rollgate-cache']).toBe('bypass');
      }
    } finally {
      await cacheless.close();
    }
  });
});

describe('several gateway instances on one catalog', () => {
  it('serve what another instance publishes, and stop when it goes offline, without a restart', async () => {
    const { app: other } = await stackGateway({
      CLICKHOUSE_URL: stack.CLICKHOUSE_URL,
      CLICKHOUSE_DATABASE: database,
      MYSQL_URL: `${stack.MYSQL_URL.replace(/\/[^/]*$/, '')}/${database}`,
      REDIS_URL: stack.REDIS_URL,
    });
    try {
      const created = await admin('POST', '/admin/apis', {
        mode: 'wizard',
        name: 'shared_hosts',
        path: '/it/shared/hosts',
        dataSource: 'it_ch',
        table: 'metrics',
        responseParams: [{ column: 'host', type: 'STRING' }],
      });
      const id = created.json().data.id as string;
      expect((await other.inject({ headers: appHeaders, url: '/api/it/shared/hosts' })).statusCode).toBe(404);
      await admin('POST', `/admin/apis/${id}/publish`);
      await waitFor('the other instance to serve it', async () => ((await other.inject({ headers: appHeaders, url: '/api/it/shared/hosts' })).statusCode === 200 ? true : undefined), 10_000, 100);
      await admin('POST', `/admin/apis/${id}/offline`);
      await waitFor('the other instance to stop', async () => ((await other.inject({ headers: appHeaders, url: '/api/it/shared/hosts' })).statusCode === 404 ? true : undefined), 10_000, 100);
    } finally {
      await other.close();
    }
  });
});
