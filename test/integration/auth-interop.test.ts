import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../aggregators/cpu-mem-5min.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { adminHeaders, TEST_APP, testGateway } from '../helpers/gateway.js';

/**
 * Interoperability with Alibaba's own Node client of the API Gateway scheme
 * (npm `aliyun-api-gateway`, a devDependency): it signs, we verify, over real
 * HTTP. Its Client signs with AppKey/AppSecret, its SimpleClient sends AppCode.
 */
interface GatewayClient {
  get(url: string, opts?: { query?: Record<string, string>; headers?: Record<string, string> }): Promise<unknown>;
  post(url: string, opts: { data: unknown; headers?: Record<string, string> }): Promise<unknown>;
}
interface AliyunApiGateway {
  Client: new (key: string, secret: string) => GatewayClient;
  SimpleClient: new (appCode: string) => GatewayClient;
}
const require = createRequire(import.meta.url);
const { Client, SimpleClient } = require('aliyun-api-gateway') as AliyunApiGateway;

const T0 = Date.UTC(2026, 10, 22, 9, 0, 0);
let store: DuckDbStore;
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  store = await DuckDbStore.open(':memory:');
  await store.ensureTable(cpuMem5min);
  await store.write(
    cpuMem5min,
    [0, 5, 10].map((m) => ({ windowStart: T0 + m * 60_000, group: { ip: '10.0.0.1', pid: 1 }, measures: { mem: 1, cpu_usage_pct: m, mem_usage_pct: 1, samples: 1 }, final: true, version: 2 })),
    [],
  );
  const conn = await store.database.connect();
  await conn.run(`CREATE TABLE sales (day DATE, region VARCHAR, amount DOUBLE)`);
  await conn.run(`INSERT INTO sales VALUES ('2026-11-01', 'north', 10), ('2026-11-02', 'south', 20)`);
  conn.closeSync();
  app = await testGateway(store);
  const created = await app.inject({
    method: 'POST',
    url: '/admin/apis',
    headers: adminHeaders,
    payload: {
      mode: 'wizard', name: 'sales_by_region', group: 'shop', path: '/shop/sales', method: 'POST', dataSource: 'builtin_clickhouse', table: 'sales',
      requestParams: [{ name: 'region', column: 'region', type: 'STRING', operator: 'in' }],
      responseParams: [{ column: 'region', type: 'STRING' }, { column: 'amount', type: 'DOUBLE' }],
    },
  });
  expect(created.statusCode, created.body).toBe(201);
  await app.inject({ method: 'POST', url: `/admin/apis/${created.json().data.id}/publish`, headers: adminHeaders });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app?.close();
  await store?.close();
});

describe('aliyun-api-gateway (Alibaba Cloud API Gateway Node SDK) against rollgate', () => {
  it('Client signs a GET with query parameters and rollgate verifies it', async () => {
    const client = new Client(TEST_APP.appKey, TEST_APP.appSecret);
    const body = (await client.get(`${base}/api/cpu-mem-5min`, { query: { ip: '10.0.0.1', pageSize: '2' } })) as { errCode: number; data: { totalNum: number; rows: unknown[] } };
    expect(body.errCode).toBe(0);
    expect(body.data.totalNum).toBe(3);
    expect(body.data.rows).toHaveLength(2);
  });

  it('Client signs a JSON POST (Content-MD5) and rollgate verifies it', async () => {
    const client = new Client(TEST_APP.appKey, TEST_APP.appSecret);
    const body = (await client.post(`${base}/api/shop/sales`, { data: { region: ['south'] } })) as { errCode: number; data: { rows: unknown[] } };
    expect(body).toMatchObject({ errCode: 0, data: { rows: [{ region: 'south', amount: 20 }] } });
  });

  it('Client signs a form POST (form fields in the string to sign) and rollgate verifies it', async () => {
    const client = new Client(TEST_APP.appKey, TEST_APP.appSecret);
    const body = (await client.post(`${base}/api/shop/sales`, {
      data: { region: 'north' },
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' },
    })) as { errCode: number; data: { rows: unknown[] } };
    expect(body).toMatchObject({ errCode: 0, data: { rows: [{ region: 'north', amount: 10 }] } });
  });

  it('a Client with the wrong secret gets 401 and the server string to sign in X-Ca-Error-Message, as the SDK expects it', async () => {
    const client = new Client(TEST_APP.appKey, 'wrong-secret-0123456789abcdef');
    const err = (await client.get(`${base}/api/cpu-mem-5min`, { query: { pageSize: '1' } }).catch((e: unknown) => e)) as {
      code: number;
      data: { headers: Record<string, string> };
    };
    expect(err.code).toBe(401);
    const message = err.data.headers['x-ca-error-message'] ?? '';
    // The SDK's debug output strips this prefix to show the server side of the comparison.
    expect(message.startsWith('Invalid Signature, Server StringToSign:')).toBe(true);
    expect(message).toContain('#x-ca-stage:RELEASE#');
    expect(message).toContain('/api/cpu-mem-5min?pageSize=1');
    expect(message).not.toContain(TEST_APP.appSecret);
  });

  it('SimpleClient calls with AppCode', async () => {
    const client = new SimpleClient(TEST_APP.appCode);
    const body = (await client.get(`${base}/api/cpu-mem-5min?pageSize=1`)) as { errCode: number; data: { rows: unknown[] } };
    expect(body.errCode).toBe(0);
    expect(body.data.rows).toHaveLength(1);
  });
});
