import { createHash } from 'node:crypto';
import { createClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import { getIntrospectionQuery } from 'graphql';
import { serverAudits } from 'graphql-http';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cpuMem5min } from '../../aggregators/cpu-mem-5min.js';
import type { RollupRow } from '../../src/core/windowed-aggregation.js';
import type { DataService } from '../../src/dataservice/data-service.js';
import { ErrorCodes } from '../../src/errors.js';
import { ClickHouseStore } from '../../src/store/clickhouse-store.js';
import { REGION_ORDER_TABLES, regionOrdersDdl } from '../../src/store/region-orders-store.js';
import { uniqueName } from '../helpers/events.js';
import { CpuMemRollupConnectionDocument, RollgateClient, type CpuMemRollupConnectionQuery } from '../../sdk/src/index.js';
import { adminHeaders, appHeaders, stackGateway, TEST_APP, type GraphQLResponse } from '../helpers/gateway.js';
import { stackEnv } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * /graphql on the real ClickHouse, MySQL and Redis: the GraphQL-over-HTTP
 * audit of graphql-http, Relay connections checked against ClickHouse's own
 * ORDER BY, published APIs appearing and disappearing as typed fields on two
 * gateway instances, store calls counted for N+1, and hostile operations.
 */
const stack = stackEnv();
const database = uniqueName('gql_it').replace(/[^A-Za-z0-9_]/g, '_');
const env = {
  CLICKHOUSE_URL: stack.CLICKHOUSE_URL,
  CLICKHOUSE_DATABASE: database,
  MYSQL_URL: `${stack.MYSQL_URL.replace(/\/[^/]*$/, '')}/${database}`,
  REDIS_URL: stack.REDIS_URL,
  // Long enough that a REST call right after a GraphQL one finds its result.
  CACHE_TTL_MS: '60000',
};
const ch = createClient({ url: stack.CLICKHOUSE_URL });
const mysqlBase = new URL(stack.MYSQL_URL);
let my: mysql.Connection;
let app: FastifyInstance;
let dataService: DataService;
let other: Awaited<ReturnType<typeof stackGateway>> | undefined;

const IPS = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
const PIDS = [11, 22, 33, 44];
const WINDOWS = 5;
const T0 = Math.floor(Date.now() / 300_000) * 300_000 - 3600_000;
const REGIONS = ['east', 'north', 'south', 'west'];

// GraphQL answers are read freely in tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Data = any;

async function gql(query: string, variables?: Record<string, unknown>, headers: Record<string, string> = appHeaders, on: FastifyInstance = app) {
  const res = await on.inject({ method: 'POST', url: '/graphql', headers: { ...headers, accept: 'application/graphql-response+json' }, payload: { query, ...(variables === undefined ? {} : { variables }) } });
  return { status: res.statusCode, body: res.json<GraphQLResponse<Data>>() };
}

/** The gateway's base URL, listening on a free port (once). */
async function listening(): Promise<string> {
  const address = app.server.address();
  if (typeof address === 'object' && address !== null) return `http://127.0.0.1:${address.port}`;
  return app.listen({ port: 0, host: '127.0.0.1' });
}

const codes = (body: GraphQLResponse<unknown>) => (body.errors ?? []).map((e) => e.extensions?.['code']);

beforeAll(async () => {
  await ch.command({ query: `CREATE DATABASE ${database}` });
  const store = new ClickHouseStore({ url: stack.CLICKHOUSE_URL, database, user: 'default', password: '' });
  await store.ensureTable(cpuMem5min);
  const rows: RollupRow[] = [];
  for (let w = 0; w < WINDOWS; w++) {
    for (const ip of IPS) {
      for (const pid of PIDS) {
        rows.push({
          windowStart: T0 + w * 300_000,
          group: { ip, pid },
          measures: { mem: 1000 * pid + w, cpu_usage_pct: w + pid / 100, mem_usage_pct: 1.5, samples: 10 + w },
          final: w < WINDOWS - 1,
          version: 20,
        });
      }
    }
  }
  await store.write(cpuMem5min, rows, []);
  await store.close();
  await ch.command({ query: `CREATE TABLE ${database}.hosts (host String, cores UInt32, weight Float64) ENGINE = MergeTree() ORDER BY host` });
  await ch.insert({ table: `${database}.hosts`, values: IPS.map((host, i) => ({ host, cores: 4 * (i + 1), weight: i + 0.5 })), format: 'JSONEachRow' });

  my = await mysql.createConnection({ host: mysqlBase.hostname, port: Number(mysqlBase.port || 3306), user: decodeURIComponent(mysqlBase.username) });
  await my.query(`CREATE DATABASE ${database}`);
  for (const ddl of regionOrdersDdl(database)) await my.query(ddl);
  await my.query(`INSERT INTO ${database}.${REGION_ORDER_TABLES.totals} VALUES ?`, [REGIONS.map((r, i) => [r, 10 + i, 100.25 * (i + 1)])]);
  const trend = REGIONS.flatMap((r, i) => [0, 1, 2].map((w) => [new Date(T0 + w * 300_000).toISOString().slice(0, 19).replace('T', ' '), r, i + w + 1, 10.5 * (w + 1)]));
  await my.query(`INSERT INTO ${database}.${REGION_ORDER_TABLES.trend} VALUES ?`, [trend]);

  const gateway = await stackGateway(env);
  app = gateway.app;
  dataService = await gateway.rt.getDataService();
}, 120_000);

afterAll(async () => {
  await other?.app.close();
  await app?.close();
  await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  await ch.close();
  await my?.query(`DROP DATABASE IF EXISTS ${database}`);
  await my?.end();
});

describe('GraphQL over HTTP', () => {
  it("passes graphql-http's server audit (GET and POST, both media types, status codes)", async () => {
    const url = await listening();
    const fetchFn: typeof fetch = (input, init) => fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers).entries()), ...appHeaders } });
    const results = await Promise.all(serverAudits({ url: `${url}/graphql`, fetchFn }).map(async (audit) => ({ name: audit.name, result: await audit.fn() })));
    const failed = results.filter((r) => r.result.status === 'error').map((r) => `${r.name}: ${'reason' in r.result ? r.result.reason : ''}`);
    const warned = results.filter((r) => r.result.status === 'warn').map((r) => r.name);
    expect(failed).toEqual([]);
    // The SHOULDs too: 200 for request errors under application/json included.
    expect(warned).toEqual([]);
    expect(results.length).toBeGreaterThan(50);
  });
});

describe('introspection', () => {
  it('answers the standard introspection query (what GraphiQL and codegen send) within every limit', async () => {
    const { status, body } = await gql(getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, inputValueDeprecation: true }));
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data.__schema.types.map((t: Data) => t.name)).toEqual(expect.arrayContaining(['Query', 'PublishedApis', 'CpuMemRollupConnection', 'PageInfo']));
  });
});

describe('Relay connections over cpu-mem-5min', () => {
  const QUERY = `query($first: Int, $after: String, $last: Int, $before: String, $order: CpuMemOrder, $filter: CpuMemFilter) {
    cpuMemRollupConnection(first: $first, after: $after, last: $last, before: $before, orderBy: $order, filter: $filter) {
      totalCount pageInfo { hasPreviousPage hasNextPage startCursor endCursor }
      edges { cursor node { windowStart ip pid mem final } }
    } }`;
  const key = (n: { windowStart: string; ip: string; pid: number }) => `${Date.parse(n.windowStart)}|${n.ip}|${n.pid}`;
  const oracle = async (order: 'DESC' | 'ASC', where = '1') => {
    // ClickHouse's own order, the API's as documented: newest window first, then ip, then pid (ASC is its exact reverse).
    const rows = (await (
      await ch.query({ query: `SELECT toUnixTimestamp(window_start) * 1000 AS ws, ip, pid FROM ${database}.cpu_mem_5min FINAL WHERE ${where} ORDER BY window_start DESC, ip ASC, pid ASC`, format: 'JSONEachRow' })
    ).json()) as Array<{ ws: string | number; ip: string; pid: number }>;
    const keys = rows.map((r) => `${Number(r.ws)}|${r.ip}|${Number(r.pid)}`);
    return order === 'DESC' ? keys : keys.reverse();
  };

  it('pages forward with first/after and backward with last/before, in either order, matching ClickHouse', async () => {
    for (const order of ['WINDOW_START_DESC', 'WINDOW_START_ASC'] as const) {
      const expected = await oracle(order === 'WINDOW_START_DESC' ? 'DESC' : 'ASC');
      expect(expected).toHaveLength(WINDOWS * IPS.length * PIDS.length);
      const forward: string[] = [];
      let after: string | undefined;
      for (let page = 0; ; page++) {
        const { body } = await gql(QUERY, { first: 7, after, order });
        const c = body.data.cpuMemRollupConnection;
        expect(c.totalCount).toBe(expected.length);
        forward.push(...c.edges.map((e: Data) => key(e.node)));
        expect(c.pageInfo.hasPreviousPage).toBe(page > 0);
        if (!c.pageInfo.hasNextPage) break;
        after = c.pageInfo.endCursor;
      }
      expect(forward).toEqual(expected);

      const backward: string[] = [];
      let before: string | undefined;
      for (;;) {
        const { body } = await gql(QUERY, { last: 9, before, order });
        const c = body.data.cpuMemRollupConnection;
        backward.unshift(...c.edges.map((e: Data) => key(e.node)));
        if (!c.pageInfo.hasPreviousPage) break;
        before = c.pageInfo.startCursor;
      }
      expect(backward).toEqual(expected);
    }
  });

  it('handles the edge cases: empty pages, first+last, a filter, and cursors past either end', async () => {
    const expected = await oracle('DESC');
    const empty = (await gql(QUERY, { first: 0 })).body.data.cpuMemRollupConnection;
    expect(empty.edges).toEqual([]);
    expect(empty.pageInfo).toEqual({ hasPreviousPage: false, hasNextPage: true, startCursor: null, endCursor: null });
    expect(empty.totalCount).toBe(expected.length);

    // first then last, as the spec's algorithm applies them: rows 10..14 of the first 15.
    const both = (await gql(QUERY, { first: 15, last: 5 })).body.data.cpuMemRollupConnection;
    expect(both.edges.map((e: Data) => key(e.node))).toEqual(expected.slice(10, 15));
    expect(both.pageInfo.hasNextPage).toBe(true);
    expect(both.pageInfo.hasPreviousPage).toBe(true);

    const lastEdge = (await gql(QUERY, { last: 1 })).body.data.cpuMemRollupConnection;
    const pastEnd = (await gql(QUERY, { first: 5, after: lastEdge.pageInfo.endCursor })).body.data.cpuMemRollupConnection;
    expect(pastEnd.edges).toEqual([]);
    expect(pastEnd.pageInfo.hasNextPage).toBe(false);
    const firstEdge = (await gql(QUERY, { first: 1 })).body.data.cpuMemRollupConnection;
    const beforeStart = (await gql(QUERY, { last: 5, before: firstEdge.pageInfo.startCursor })).body.data.cpuMemRollupConnection;
    expect(beforeStart.edges).toEqual([]);
    expect(beforeStart.pageInfo.hasPreviousPage).toBe(false);

    const filtered = (await gql(QUERY, { first: 100, filter: { ip: IPS[1], finalOnly: true } })).body.data.cpuMemRollupConnection;
    const where = `ip = '${IPS[1]}' AND final = 1`;
    expect(filtered.edges.map((e: Data) => key(e.node))).toEqual(await oracle('DESC', where));
    expect(filtered.totalCount).toBe((WINDOWS - 1) * PIDS.length);
  });

  it('refuses invalid cursors, negative and oversized pages with INVALID_PARAMETER naming the argument', async () => {
    const good = (await gql(QUERY, { first: 2 })).body.data.cpuMemRollupConnection.pageInfo.endCursor as string;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ after: 'not-a-cursor' }, 'after'],
      [{ before: Buffer.from('rg1:abc:1').toString('base64url') }, 'before'],
      // A cursor of another filter names another row: refused rather than silently misread.
      [{ after: good, filter: { ip: IPS[0] } }, 'after'],
      [{ after: good, order: 'WINDOW_START_ASC' }, 'after'],
      [{ first: -1 }, 'first'],
      [{ last: 100_000 }, 'last'],
    ];
    for (const [variables, field] of cases) {
      const { status, body } = await gql(QUERY, variables);
      expect(status).toBe(200);
      expect(body.data).toBeNull();
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_PARAMETER', errCode: ErrorCodes.INVALID_PARAMETER.errCode, field });
    }
  });

  it("pages through with the SDK's typed connection operation, as a client would", async () => {
    const sdk = new RollgateClient({ baseUrl: await listening(), auth: { type: 'appCode', appCode: TEST_APP.appCode } });
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const result: CpuMemRollupConnectionQuery = await sdk.graphql(CpuMemRollupConnectionDocument, { first: 25, after, orderBy: 'WINDOW_START_ASC' });
      const page = result.cpuMemRollupConnection;
      seen.push(...page.edges.map((e) => key(e.node)));
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after !== null);
    expect(seen).toEqual(await oracle('ASC'));
  });

  it('keeps the page-number form of cpuMemRollups, its page size capped', async () => {
    const { body } = await gql('{ cpuMemRollups(pageNum: 2, pageSize: 10) { pageNum pageSize totalNum rows { ip pid windowStart } } }');
    expect(body.data.cpuMemRollups.totalNum).toBe(WINDOWS * IPS.length * PIDS.length);
    expect(body.data.cpuMemRollups.rows.map(key)).toEqual((await oracle('DESC')).slice(10, 20));
    const oversized = await gql('{ cpuMemRollups(pageSize: 100000) { totalNum } }');
    expect(oversized.body.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_PARAMETER', field: 'pageSize' });
  });
});

describe('region orders', () => {
  it('serves totals with typed orderBy, the trend as a connection, and each total its trend', async () => {
    const { body } = await gql('{ regionOrderTotals(orderBy: ORDER_CNT_DESC) { region orderCnt trend { orderCnt } } }');
    expect(body.data.regionOrderTotals.map((t: Data) => t.region)).toEqual([...REGIONS].reverse());
    expect(body.data.regionOrderTotals[0].trend.map((p: Data) => p.orderCnt)).toEqual([4, 5, 6]);
    const conn = (await gql('{ regionOrderTrendConnection(first: 5, orderBy: WINDOW_START_DESC, filter: { region: "east" }) { totalCount edges { node { orderCnt } } pageInfo { hasNextPage } } }')).body.data
      .regionOrderTrendConnection;
    expect(conn.totalCount).toBe(3);
    expect(conn.edges.map((e: Data) => e.node.orderCnt)).toEqual([3, 2, 1]);
    expect(conn.pageInfo.hasNextPage).toBe(false);
  });
});

describe('DataLoaders', () => {
  it('reads every region total its trend in one API call, not one per region (no N+1)', async () => {
    const calls = vi.spyOn(dataService.apis, 'call');
    try {
      const { body } = await gql('{ regionOrderTotals { region trend { windowStart orderCnt } } }');
      expect(body.data.regionOrderTotals).toHaveLength(REGIONS.length);
      const paths = calls.mock.calls.map(([api]) => api.definition.path);
      // One call for the totals and one for all the trends, however many regions there are.
      expect(paths.sort()).toEqual(['/region-order-totals', '/region-order-trend']);
    } finally {
      calls.mockRestore();
    }
  });

  it('runs an aliased or repeated call of the same API once per request', async () => {
    const calls = vi.spyOn(dataService.apis, 'call');
    try {
      const { body } = await gql('{ a: cpuMemRollups(pageSize: 3) { totalNum } b: cpuMemRollups(pageSize: 3) { totalNum } c: cpuMemRollups(pageSize: 4) { totalNum } }');
      expect(body.data.a.totalNum).toBe(body.data.c.totalNum);
      expect(calls).toHaveBeenCalledTimes(2);
    } finally {
      calls.mockRestore();
    }
  });

  it('reads a forward page of a connection in one API call, the total coming with it', async () => {
    const calls = vi.spyOn(dataService.apis, 'call');
    try {
      const first = (await gql('{ cpuMemRollupConnection(first: 10) { totalCount pageInfo { endCursor } } }')).body.data.cpuMemRollupConnection;
      expect(first.totalCount).toBe(WINDOWS * IPS.length * PIDS.length);
      expect(calls).toHaveBeenCalledTimes(1);
      // A page that straddles two API pages of its size takes two; never one per row.
      await gql('query($a: String) { cpuMemRollupConnection(first: 7, after: $a) { edges { cursor } } }', { a: first.pageInfo.endCursor });
      expect(calls).toHaveBeenCalledTimes(3);
    } finally {
      calls.mockRestore();
    }
  });

  it('loads the data source of every API and the APIs of every app with one catalog listing each', async () => {
    const sources = vi.spyOn(dataService.dataSources, 'list');
    const apis = vi.spyOn(dataService.apis, 'list');
    try {
      const { body } = await gql('{ admin { apis { name dataSource { name kind } } apps { appKey apis { name dataSource { kind } } } } }', undefined, adminHeaders);
      expect(body.errors).toBeUndefined();
      expect(body.data.admin.apis.length).toBeGreaterThanOrEqual(4);
      expect(body.data.admin.apis.every((a: Data) => a.dataSource !== null)).toBe(true);
      expect(sources).toHaveBeenCalledTimes(1);
      // admin.apis lists once itself; every app's apis share one more listing.
      expect(apis).toHaveBeenCalledTimes(2);
    } finally {
      sources.mockRestore();
      apis.mockRestore();
    }
  });
});

describe('admin fields', () => {
  it('answer the admin token only, and never show a password, an appSecret or an appCode', async () => {
    const password = 'gql-secret-password-123';
    const created = await app.inject({
      method: 'POST',
      url: '/admin/datasources',
      headers: adminHeaders,
      payload: { name: 'gql_ch_pw', kind: 'clickhouse', url: stack.CLICKHOUSE_URL, database, password },
    });
    expect(created.statusCode, created.body).toBe(201);
    const res = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: adminHeaders,
      payload: { query: '{ admin { dataSources { name config } apps { appKey grants status rateLimit { rps } } } }' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('gql_ch_pw');
    expect(res.body).not.toContain(password);
    expect(res.body).not.toContain('test-app-secret');
    expect(res.body).not.toContain('test-app-code');

    const asApp = await gql('{ admin { apps { appKey } } }');
    expect(codes(asApp.body)).toEqual(['FORBIDDEN']);
    const wrong = await app.inject({ method: 'POST', url: '/graphql', headers: { authorization: 'Bearer not-the-admin-token' }, payload: { query: '{ admin { isAdmin } }' } });
    expect(wrong.statusCode).toBe(401);
  });
});

describe('published APIs as typed fields', () => {
  const definition = {
    name: 'gql_hosts',
    path: '/gql/hosts',
    group: 'default',
    mode: 'wizard',
    dataSource: 'gql_hosts_src',
    table: 'hosts',
    requestParams: [
      { name: 'host', column: 'host', type: 'STRING', operator: 'in', required: false },
      { name: 'minCores', column: 'cores', type: 'INT', operator: '>=', required: true },
    ],
    responseParams: [
      { column: 'host', type: 'STRING' },
      { column: 'cores', name: 'coreCount', type: 'INT' },
      { column: 'weight', type: 'DOUBLE' },
    ],
    sort: [{ column: 'host', order: 'ASC' }],
  };
  const FIELD = '{ published { gql_hosts(minCores: 5, host: ["10.0.0.2", "10.0.0.3"], pageSize: 10) { totalNum rows { host coreCount weight } } } }';
  const fieldNames = async (on: FastifyInstance) =>
    ((await gql('{ __type(name: "PublishedApis") { fields { name } } }', undefined, appHeaders, on)).body.data.__type.fields as Array<{ name: string }>).map((f) => f.name);

  it('appear on publish and disappear when taken offline, on this and another instance, without a restart', async () => {
    const source = await app.inject({ method: 'POST', url: '/admin/datasources', headers: adminHeaders, payload: { name: 'gql_hosts_src', kind: 'clickhouse', url: stack.CLICKHOUSE_URL, database } });
    expect(source.statusCode, source.body).toBe(201);
    other = await stackGateway(env);
    expect(await fieldNames(app)).not.toContain('gql_hosts');
    const created = await app.inject({ method: 'POST', url: '/admin/apis', headers: adminHeaders, payload: definition });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json<{ data: { id: string } }>().data.id;
    expect((await app.inject({ method: 'POST', url: `/admin/apis/${id}/publish`, headers: adminHeaders })).statusCode).toBe(200);

    expect(await fieldNames(app)).toContain('gql_hosts');
    const { body } = await gql(FIELD);
    expect(body.errors).toBeUndefined();
    expect(body.data.published.gql_hosts).toEqual({ totalNum: 2, rows: [{ host: '10.0.0.2', coreCount: 8, weight: 1.5 }, { host: '10.0.0.3', coreCount: 12, weight: 2.5 }] });
    // The same call over REST gives the same rows (and the same cache entry).
    const rest = await app.inject({ url: '/api/gql/hosts?minCores=5&host=10.0.0.2,10.0.0.3&pageSize=10', headers: appHeaders });
    expect(rest.json<{ data: { rows: unknown[] } }>().data.rows).toEqual(body.data.published.gql_hosts.rows);
    expect(['hit', 'hit-l1']).toContain(rest.headers['x-rollgate-cache']);
    // Typed: a required argument left out, or a wrong type, is refused before anything runs.
    expect(codes((await gql('{ published { gql_hosts { totalNum } } }')).body)).toEqual(['INVALID_PARAMETER']);
    expect(codes((await gql('{ published { gql_hosts(minCores: "many") { totalNum } } }')).body)).toEqual(['INVALID_PARAMETER']);

    // The other instance hears of it through the catalog revision.
    await waitFor('the other instance to serve gql_hosts', async () => ((await fieldNames(other!.app)).includes('gql_hosts') ? true : undefined), 20_000, 200);
    expect((await gql(FIELD, undefined, appHeaders, other.app)).body.data.published.gql_hosts.totalNum).toBe(2);

    expect((await app.inject({ method: 'POST', url: `/admin/apis/${id}/offline`, headers: adminHeaders })).statusCode).toBe(200);
    expect(await fieldNames(app)).not.toContain('gql_hosts');
    expect(codes((await gql(FIELD)).body)).toEqual(['INVALID_PARAMETER']);
    await waitFor('the other instance to drop gql_hosts', async () => (!(await fieldNames(other!.app)).includes('gql_hosts') ? true : undefined), 20_000, 200);
  });

  it('are called only by apps granted the API, as over REST', async () => {
    const created = await app.inject({ method: 'POST', url: '/admin/apps', headers: adminHeaders, payload: { name: 'gql-ungranted', grants: ['api:region_order_totals'] } });
    expect(created.statusCode, created.body).toBe(201);
    const headers = { authorization: `APPCODE ${created.json<{ data: { appCode: string } }>().data.appCode}` };
    await waitFor('the new app to be known', async () => ((await gql('{ regionOrderTotals { region } }', undefined, headers)).status === 200 ? true : undefined), 10_000, 100);
    const denied = await gql('{ cpuMemRollups { totalNum } }', undefined, headers);
    expect(denied.status).toBe(200);
    expect(codes(denied.body)).toEqual(['NOT_GRANTED']);
    expect((await gql('{ regionOrderTotals { region } }', undefined, headers)).body.data.regionOrderTotals).toHaveLength(REGIONS.length);
    const trend = await gql('{ regionOrderTotals { trend { orderCnt } } }', undefined, headers);
    expect(codes(trend.body)).toContain('NOT_GRANTED');
  });
});

describe('hostile operations', () => {
  const nested = (depth: number) => `{ __type(name: "Query") { ${'fields { type { '.repeat(depth)}name${' } }'.repeat(depth)} } }`;

  it('refuses deep nesting, huge aliases, huge documents and batches with their codes, and keeps serving', async () => {
    const deep = await gql(nested(20));
    expect(codes(deep.body)).toContain('QUERY_TOO_COMPLEX');
    expect(deep.body.data).toBeUndefined();

    const aliases = Array.from({ length: 5000 }, (_, i) => `a${i}: published { catalogRevision }`).join(' ');
    const aliased = await gql(`{ ${aliases} }`);
    expect(codes(aliased.body)).toEqual(['QUERY_TOO_COMPLEX']);

    // Oversized pages: one is refused by the resolver, many through aliases by the cost before anything runs.
    const calls = vi.spyOn(dataService.apis, 'call');
    const pages = Array.from({ length: 10 }, (_, i) => `p${i}: cpuMemRollupConnection(first: 2000, filter: { pid: ${i} }) { edges { node { ip pid mem cpuUsagePct } } }`).join(' ');
    const costly = await gql(`{ ${pages} }`);
    expect(costly.status).toBe(400);
    expect(codes(costly.body)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(calls).not.toHaveBeenCalled();
    calls.mockRestore();

    // The same field thousands of times: graphql-js' field-merging check is quadratic in it, so it never gets there.
    const repeated = await gql(`{ published { ${'catalogRevision '.repeat(9000)} } }`);
    expect(repeated.status).toBe(400);
    expect(codes(repeated.body)).toEqual(['QUERY_TOO_COMPLEX']);

    const huge = await gql(`{ ${'__typename '.repeat(50_000)} }`);
    expect(codes(huge.body)).toEqual(['QUERY_TOO_COMPLEX']);

    const batch = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { ...appHeaders, 'content-type': 'application/json' },
      payload: JSON.stringify(Array.from({ length: 100 }, () => ({ query: '{ cpuMemRollups { totalNum } }' }))),
    });
    expect(batch.statusCode).toBe(400);
    expect(codes(batch.json<GraphQLResponse<unknown>>())).toEqual(['INVALID_PARAMETER']);

    const fine = await gql('{ cpuMemRollups(pageSize: 1) { totalNum } }');
    expect(fine.body.data.cpuMemRollups.totalNum).toBe(WINDOWS * IPS.length * PIDS.length);
  });
});

describe('repeated operations', () => {
  it('are priced by their variables on every call, though the document is parsed once', async () => {
    const query = `query($n: Int) { ${Array.from({ length: 10 }, (_, i) => `p${i}: cpuMemRollupConnection(first: $n, filter: { pid: ${i} }) { edges { node { ip pid mem cpuUsagePct } } }`).join(' ')} }`;
    for (const [n, refused] of [[1, false], [2000, true], [1, false], [2000, true]] as const) {
      const res = await gql(query, { n });
      expect(codes(res.body).includes('QUERY_TOO_COMPLEX')).toBe(refused);
    }
  });

  it('say Cache-Control: no-store, answered or refused', async () => {
    for (const query of ['{ cpuMemRollups(pageSize: 1) { totalNum } }', '{ cpuMemRollups(pageSize: 1) { noSuchField } }']) {
      const res = await app.inject({ method: 'POST', url: '/graphql', headers: { ...appHeaders, 'content-type': 'application/json' }, payload: { query } });
      expect(res.headers['cache-control']).toBe('no-store');
    }
  });
});

describe('automatic persisted queries', () => {
  it('answer a known hash over GET on every instance, and ask for the query once when the hash is new', async () => {
    const query = `{ cpuMemRollups(pageSize: 2) { totalNum } } # ${database}`;
    const extensions = { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') } };
    const get = () => app.inject({ method: 'GET', url: `/graphql?extensions=${encodeURIComponent(JSON.stringify(extensions))}`, headers: appHeaders });
    const unknown = await get();
    expect(codes(unknown.json<GraphQLResponse<unknown>>())).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    const registered = await app.inject({ method: 'POST', url: '/graphql', headers: appHeaders, payload: { query, extensions } });
    expect(registered.json<GraphQLResponse<Data>>().data.cpuMemRollups.totalNum).toBe(WINDOWS * IPS.length * PIDS.length);
    const known = await get();
    expect(known.statusCode).toBe(200);
    expect(known.json<GraphQLResponse<Data>>().data.cpuMemRollups.totalNum).toBe(WINDOWS * IPS.length * PIDS.length);
    // A browser-like Accept header does not make a hashed query the landing page: no credentials, no answer.
    const html = 'text/html,application/xhtml+xml,*/*;q=0.8';
    const anonymous = await app.inject({ method: 'GET', url: `/graphql?extensions=${encodeURIComponent(JSON.stringify(extensions))}`, headers: { accept: html } });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.body).not.toContain('totalNum');
    const landing = await app.inject({ method: 'GET', url: '/graphql', headers: { accept: html } });
    expect(landing.statusCode).toBe(200);
    expect(landing.headers['content-type']).toContain('text/html');
    // Kept in Redis: another instance knows the hash too.
    other ??= await stackGateway(env);
    const elsewhere = await other.app.inject({ method: 'GET', url: `/graphql?extensions=${encodeURIComponent(JSON.stringify(extensions))}`, headers: appHeaders });
    expect(elsewhere.json<GraphQLResponse<Data>>().data.cpuMemRollups.totalNum).toBe(WINDOWS * IPS.length * PIDS.length);
  });
});
