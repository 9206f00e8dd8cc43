import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../../aggregators/cpu-mem-5min.js';
import type { RollupRow } from '../../../src/core/windowed-aggregation.js';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';
import { appHeaders, testGateway } from '../../helpers/gateway.js';

/** The dashboard's host views over cpu-mem-5min, on the embedded store. */
const T0 = Date.UTC(2026, 10, 22, 9, 0, 0);
const row = (minutes: number, ip: string, pid: number, cpu: number, memPct: number, version = 1, final = true): RollupRow => ({
  windowStart: T0 + minutes * 60_000,
  group: { ip, pid },
  measures: { mem: pid * 1000, cpu_usage_pct: cpu, mem_usage_pct: memPct, samples: 3 },
  final,
  version,
});

let store: DuckDbStore;
let app: FastifyInstance;

beforeAll(async () => {
  store = await DuckDbStore.open(':memory:');
  await store.ensureTable(cpuMem5min);
  await store.write(
    cpuMem5min,
    [
      row(0, '10.0.0.1', 1, 10, 5),
      row(0, '10.0.0.1', 2, 70, 1),
      row(5, '10.0.0.1', 1, 30, 9),
      row(0, '10.0.0.2', 3, 50, 2),
      row(5, '10.0.0.2', 3, 55, 3, 2, false),
      row(0, '10.0.0.3', 4, 5, 40),
      row(-60, '10.0.0.3', 4, 99, 99),
    ],
    [],
  );
  app = await testGateway(store);
});

afterAll(async () => {
  await app.close();
  await store.close();
});

const get = async (url: string) => {
  const res = await app.inject({ headers: appHeaders, url });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().data;
};

describe('GET /api/cpu-mem-top-hosts', () => {
  it('ranks hosts by their largest CPU over the range, with memory maxima and process counts', async () => {
    const data = await get('/api/cpu-mem-top-hosts?from=2026-11-22T09:00:00Z&pageSize=2');
    expect(data).toMatchObject({ pageNum: 1, pageSize: 2, totalNum: 3 });
    expect(data.rows).toEqual([
      { ip: '10.0.0.1', max_cpu_usage_pct: 70, max_mem_usage_pct: 9, max_mem: 2000, processes: 2 },
      { ip: '10.0.0.2', max_cpu_usage_pct: 55, max_mem_usage_pct: 3, max_mem: 3000, processes: 1 },
    ]);
  });

  it('leaves out windows before from (the 99 % an hour earlier) and at or after to', async () => {
    const data = await get('/api/cpu-mem-top-hosts?from=2026-11-22T09:00:00Z&to=2026-11-22T09:05:00Z&pageNum=2&pageSize=2');
    expect(data.rows).toEqual([{ ip: '10.0.0.3', max_cpu_usage_pct: 5, max_mem_usage_pct: 40, max_mem: 4000, processes: 1 }]);
  });

  it('needs from: an unbounded scan of the rollup is not what a dashboard should send', async () => {
    const res = await app.inject({ headers: appHeaders, url: '/api/cpu-mem-top-hosts' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ errCode: 1410 });
    expect(res.json().errMsg).toMatch(/from/);
  });
});

describe('GET /api/cpu-mem-host-trend', () => {
  it("gives one host's maxima over its processes per window, oldest first", async () => {
    const data = await get('/api/cpu-mem-host-trend?ip=10.0.0.1&from=2026-11-22T08:00:00Z');
    expect(data.rows).toEqual([
      { window_start: '2026-11-22T09:00:00.000Z', max_cpu_usage_pct: 70, max_mem_usage_pct: 5, max_mem: 2000 },
      { window_start: '2026-11-22T09:05:00.000Z', max_cpu_usage_pct: 30, max_mem_usage_pct: 9, max_mem: 1000 },
    ]);
    expect(data.truncated).toBe(false);
  });

  it('answers no rows for an unknown host', async () => {
    expect((await get('/api/cpu-mem-host-trend?ip=10.9.9.9&from=2026-11-22T08:00:00Z')).rows).toEqual([]);
  });
});
