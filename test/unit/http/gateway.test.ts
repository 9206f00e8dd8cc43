import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../../aggregators/cpu-mem-5min.js';
import type { RollupRow } from '../../../src/core/windowed-aggregation.js';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';
import { appHeaders, testGateway, type GraphQLResponse } from '../../helpers/gateway.js';

const T0 = Date.UTC(2026, 10, 22, 9, 0, 0);
const row = (minutes: number, ip: string, pid: number, cpu: number, final = true): RollupRow => ({
  windowStart: T0 + minutes * 60_000,
  group: { ip, pid },
  measures: { mem: 1000 + pid, cpu_usage_pct: cpu, mem_usage_pct: cpu / 2, samples: 3 },
  final,
  version: 7,
});

let store: DuckDbStore;
let app: FastifyInstance;

beforeAll(async () => {
  store = await DuckDbStore.open(':memory:');
  await store.ensureTable(cpuMem5min);
  await store.write(cpuMem5min, [row(0, '10.0.0.1', 1, 10), row(0, '10.0.0.2', 2, 20), row(5, '10.0.0.1', 1, 30), row(10, '10.0.0.1', 1, 40, false)], []);
  app = await testGateway(store);
});

afterAll(async () => {
  await app.close();
  await store.close();
});

describe('GET /api/cpu-mem-5min', () => {
  it('answers one page in the DataService envelope, newest window first', async () => {
    const res = await app.inject({ headers: appHeaders, url: '/api/cpu-mem-5min?pageSize=2' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ errCode: 0, errMsg: 'success', data: { pageNum: 1, pageSize: 2, totalNum: 4 } });
    expect(body.requestId).toBe(res.headers['x-request-id']);
    expect(body.data.rows).toEqual([
      { window_start: '2026-11-22T09:10:00.000Z', ip: '10.0.0.1', pid: 1, mem: 1001, cpu_usage_pct: 40, mem_usage_pct: 20, samples: 3, final: false },
      { window_start: '2026-11-22T09:05:00.000Z', ip: '10.0.0.1', pid: 1, mem: 1001, cpu_usage_pct: 30, mem_usage_pct: 15, samples: 3, final: true },
    ]);
  });

  it('filters by ip, pid and a [from, to) window range', async () => {
    const res = await app.inject({ headers: appHeaders, url: '/api/cpu-mem-5min?ip=10.0.0.1&pid=1&from=2026-11-22T09:05:00Z&to=2026-11-22T09:10:00Z' });
    expect(res.json().data).toMatchObject({ totalNum: 1, rows: [{ window_start: '2026-11-22T09:05:00.000Z', cpu_usage_pct: 30 }] });
  });

  it('serves only closed windows with final=true', async () => {
    const res = await app.inject({ headers: appHeaders, url: '/api/cpu-mem-5min?final=true' });
    expect(res.json().data.totalNum).toBe(3);
    expect(res.json().data.rows.every((r: { final: boolean }) => r.final)).toBe(true);
  });

  it('pages through every row exactly once', async () => {
    const seen: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const res = await app.inject({ headers: appHeaders, url: `/api/cpu-mem-5min?pageSize=2&pageNum=${page}` });
      seen.push(...res.json().data.rows.map((r: { window_start: string; ip: string }) => `${r.window_start}/${r.ip}`));
    }
    expect(seen).toHaveLength(4);
    expect(new Set(seen).size).toBe(4);
  });

  it.each([
    ['pid=abc', 'pid'],
    ['pageSize=0', 'pageSize'],
    ['pageSize=100000', 'pageSize'],
    ['from=yesterday', 'from'],
    ['final=maybe', 'final'],
  ])('rejects %s with 400, errCode 1400 and a message naming %s', async (qs, field) => {
    const res = await app.inject({ headers: appHeaders, url: `/api/cpu-mem-5min?${qs}` });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body).toMatchObject({ errCode: 1400, data: null });
    expect(body.errMsg).toMatch(new RegExp(`^${field}\\b`));
    expect(typeof body.requestId).toBe('string');
  });

  it('answers unknown paths with 404 in the same envelope', async () => {
    const res = await app.inject({ headers: appHeaders, url: '/api/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ errCode: 1404, data: null });
  });
});

describe('POST /graphql cpuMemRollups', () => {
  const query = (q: string, variables: Record<string, unknown> = {}) =>
    app.inject({ method: 'POST', headers: appHeaders, url: '/graphql', payload: { query: q, variables } }).then((r) => r.json() as GraphQLResponse<Record<string, unknown>>);

  it('returns the same rows as REST with page-number paging', async () => {
    const res = await query(`query($f: CpuMemFilter) { cpuMemRollups(filter: $f, pageNum: 1, pageSize: 10) {
      totalNum pageNum pageSize rows { windowStart ip pid mem cpuUsagePct memUsagePct samples final } } }`, { f: { ip: '10.0.0.2' } });
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({
      cpuMemRollups: {
        totalNum: 1,
        pageNum: 1,
        pageSize: 10,
        rows: [{ windowStart: '2026-11-22T09:00:00.000Z', ip: '10.0.0.2', pid: 2, mem: 1002, cpuUsagePct: 20, memUsagePct: 10, samples: 3, final: true }],
      },
    });
  });

  it('rejects a page size above the cap with extensions.code from the shared enum', async () => {
    const res = await query('{ cpuMemRollups(pageSize: 5000) { totalNum } }');
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_PARAMETER', errCode: 1400, field: 'pageSize' });
  });

  it('reports a malformed query with a code from the shared enum', async () => {
    const res = await query('{ cpuMemRollups(');
    expect(res.errors?.[0]?.extensions?.['code']).toBe('INVALID_PARAMETER');
  });
});

describe('health', () => {
  it('/healthz says the process is up', async () => {
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
  });

  it('/readyz names a dependency that does not answer, with 503', async () => {
    const failing = await testGateway(store, [
      { name: 'duckdb', check: () => store.ping() },
      { name: 'clickhouse', check: () => Promise.reject(new Error('connect ECONNREFUSED')) },
    ]);
    const res = await failing.inject({ url: '/readyz' });
    await failing.close();
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'not ready', unavailable: ['clickhouse'], dependencies: { duckdb: 'up', clickhouse: 'down' } });
  });
});
