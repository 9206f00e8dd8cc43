import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGION_ORDER_DUCKDB_DDL } from '../../../src/dataservice/builtins.js';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';
import { adminHeaders, testGateway, type GraphQLResponse, appHeaders } from '../../helpers/gateway.js';

/**
 * The region-orders results as built-in published APIs on the embedded store
 * (DuckDB standing in for MySQL): REST envelope, admin listing, OpenAPI, and
 * GraphQL reading through the same APIs.
 */
let store: DuckDbStore;
let app: FastifyInstance;

beforeAll(async () => {
  store = await DuckDbStore.open(':memory:');
  const conn = await store.database.connect();
  for (const ddl of REGION_ORDER_DUCKDB_DDL) await conn.run(ddl);
  await conn.run(`INSERT INTO region_order_totals VALUES ('北京', 3, 1234567.89), ('上海', 1, 0.10)`);
  await conn.run(`INSERT INTO region_orders_5min VALUES ('2026-11-24 06:00:00', '北京', 2, 1234567.00), ('2026-11-24 06:05:00', '北京', 1, 0.89), ('2026-11-24 06:00:00', '上海', 1, 0.10)`);
  conn.closeSync();
  app = await testGateway(store);
});

afterAll(async () => {
  await app.close();
  await store.close();
});

describe('built-in region-order APIs', () => {
  it('serves the totals in the DataService envelope, exact to the cent', async () => {
    const res = await app.inject({ method: 'GET', headers: appHeaders, url: '/api/region-order-totals' });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ errCode: number; data: { rows: unknown[] } }>();
    expect(body.errCode).toBe(0);
    expect(body.data.rows).toEqual([
      { order_region: '上海', order_cnt: 1, order_total_revenue: 0.1 },
      { order_region: '北京', order_cnt: 3, order_total_revenue: 1234567.89 },
    ]);
    const one = await app.inject({ method: 'GET', headers: appHeaders, url: '/api/region-order-totals?region=%E5%8C%97%E4%BA%AC' });
    expect(one.json<{ data: { rows: unknown[] } }>().data.rows).toHaveLength(1);
  });

  it('serves the trend oldest first, filtered by region and [from, to)', async () => {
    const res = await app.inject({ method: 'GET', headers: appHeaders, url: `/api/region-order-trend?region=${encodeURIComponent('北京')}&from=2026-11-24T06:05:00Z` });
    expect(res.json<{ data: { rows: unknown[] } }>().data.rows).toEqual([
      { window_start: '2026-11-24T06:05:00.000Z', order_region: '北京', order_cnt: 1, order_total_revenue: 0.89 },
    ]);
  });

  it('lists both in /admin/apis and /openapi.json as built-ins', async () => {
    const apis = await app.inject({ method: 'GET', url: '/admin/apis', headers: adminHeaders });
    const text = apis.body;
    expect(text).toContain('builtin-region-order-totals');
    expect(text).toContain('builtin-region-order-trend');
    const openapi = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/api/region-order-totals', '/api/region-order-trend']));
  });

  it('answers GraphQL regionOrderTotals and regionOrderTrend through the same APIs', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: appHeaders,
      payload: {
        query: `{ regionOrderTotals { region orderCnt orderTotalRevenue orderTotalRevenueDecimal }
                  regionOrderTrend(region: "北京", from: "2026-11-24T06:00:00Z", to: "2026-11-24T06:05:00Z") { windowStart region orderCnt orderTotalRevenueDecimal } }`,
      },
    });
    const body = res.json<GraphQLResponse<{ regionOrderTotals: unknown[]; regionOrderTrend: unknown[] }>>();
    expect(body.errors).toBeUndefined();
    expect(body.data?.regionOrderTotals).toContainEqual({ region: '北京', orderCnt: 3, orderTotalRevenue: 1234567.89, orderTotalRevenueDecimal: '1234567.89' });
    expect(body.data?.regionOrderTrend).toEqual([{ windowStart: '2026-11-24T06:00:00.000Z', region: '北京', orderCnt: 2, orderTotalRevenueDecimal: '1234567.00' }]);
  });
});
