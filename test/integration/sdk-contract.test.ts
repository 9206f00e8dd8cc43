import { createServer, type Server, type Socket } from 'node:net';
import { createClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import jwt from 'jsonwebtoken';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../aggregators/cpu-mem-5min.js';
import type { RollupRow } from '../../src/core/windowed-aggregation.js';
import { regionOrdersDdl } from '../../src/store/region-orders-store.js';
import {
  CpuMemRollupConnectionDocument,
  CpuMemRollupsDocument,
  RegionOrderTotalsDocument,
  RegionOrderTrendDocument,
  RollgateApiError,
  RollgateClient,
  RollgateGraphQLError,
  RollgateNetworkError,
  RollgateTimeoutError,
  type Auth,
  type ClientOptions,
  type CpuMem5minRow,
  type Page,
  type RetryEvent,
} from '../../sdk/src/index.js';
import { uniqueName } from '../helpers/events.js';
import { createApp as createTestApp, stackGateway, TEST_APP } from '../helpers/gateway.js';
import { stackEnv } from '../helpers/stack.js';

/**
 * The SDK's contract with a live gateway composed as `rollgate serve` composes
 * it, on the real ClickHouse, MySQL and Redis, over real HTTP: every auth
 * mode, paging, typed errors, retries that honour Retry-After, abort and
 * timeout, and the generated GraphQL operations. Nothing of the gateway is
 * mocked; `counting()` only wraps the real fetch to count the requests sent.
 */
const stack = stackEnv();
const database = uniqueName('sdk_it').replace(/[^A-Za-z0-9_]/g, '_');
const JWT_KEY = { kid: 'sdk-it', secret: 'sdk-contract-jwt-secret-0123456789abcdef' };
const ch = createClient({ url: stack.CLICKHOUSE_URL });
let my: mysql.Connection;
let app: FastifyInstance;
let base: string;

const T0 = Date.UTC(2026, 10, 23, 0, 0, 0);
const IPS = ['10.1.0.1', '10.1.0.2', '10.1.0.3'];
const WINDOWS = 23;
const ROWS_PER_IP = WINDOWS * 2;
const appCode: Auth = { type: 'appCode', appCode: TEST_APP.appCode };
const signature: Auth = { type: 'signature', appKey: TEST_APP.appKey, appSecret: TEST_APP.appSecret };

/** An app of its own for one test. */
const createApp = (body: Record<string, unknown>) => createTestApp(app, body);

/** The real fetch, recording the path of every request sent. */
function counting(): { fetch: typeof fetch; sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    fetch: (input, init) => {
      sent.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
      return fetch(input, init);
    },
  };
}

const client = (auth: Auth, options: Partial<ClientOptions> = {}) => new RollgateClient({ baseUrl: base, auth, ...options });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: unknown) => err,
  );
}

async function apiError(promise: Promise<unknown>): Promise<RollgateApiError> {
  const err = await rejection(promise);
  expect(err).toBeInstanceOf(RollgateApiError);
  return err as RollgateApiError;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

beforeAll(async () => {
  my = await mysql.createConnection(stack.MYSQL_URL.replace(/\/[^/]*$/, '/'));
  await my.query(`CREATE DATABASE ${database}`);
  // The region-orders results as the aggregator leaves them (its tables, a few regions and windows).
  for (const ddl of regionOrdersDdl(database)) await my.query(ddl);
  await my.query(`INSERT INTO ${database}.region_order_totals VALUES ('east', 3, 30.10), ('north', 5, 1234.50), ('south', 2, 0.99)`);
  await my.query(
    `INSERT INTO ${database}.region_orders_5min VALUES ('2026-11-23 00:00:00', 'north', 2, 1000.00), ('2026-11-23 00:00:00', 'east', 3, 30.10), ('2026-11-23 00:05:00', 'north', 3, 234.50), ('2026-11-23 00:10:00', 'south', 2, 0.99)`,
  );
  const gateway = await stackGateway({
    CLICKHOUSE_URL: stack.CLICKHOUSE_URL,
    CLICKHOUSE_DATABASE: database,
    MYSQL_URL: `${stack.MYSQL_URL.replace(/\/[^/]*$/, '')}/${database}`,
    REDIS_URL: stack.REDIS_URL,
    ROLLGATE_JWT_KEYS: JSON.stringify([JWT_KEY]),
  });
  app = gateway.app;
  const store = await gateway.rt.storeFor(cpuMem5min);
  await store.ensureTable(cpuMem5min);
  const rows: RollupRow[] = [];
  for (let w = 0; w < WINDOWS; w++) {
    for (const ip of IPS) {
      for (const pid of [1, 2]) {
        rows.push({
          windowStart: T0 + w * 300_000,
          group: { ip, pid },
          measures: { mem: 1_000_000 + w * 10 + pid, cpu_usage_pct: (w * 7 + pid) % 100, mem_usage_pct: (w + pid) % 50, samples: 1 + w },
          final: w < WINDOWS - 1,
          version: 2,
        });
      }
    }
  }
  await store.write(cpuMem5min, rows, []);
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app?.close();
  await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  await ch.close();
  await my?.query(`DROP DATABASE IF EXISTS ${database}`);
  await my?.end();
});

describe('auth modes', () => {
  const ip = IPS[0];

  it.each([
    ['AppCode', appCode],
    ['AppKey/AppSecret signature', signature],
    ['JWT exchanged with an AppCode', { type: 'jwt', credentials: appCode } as Auth],
    ['JWT exchanged with a signature', { type: 'jwt', credentials: signature } as Auth],
  ])('%s reads a page of cpu-mem-5min', async (_name, auth) => {
    const page = await client(auth).page('cpu-mem-5min', { ip, pageSize: 5 });
    expect(page).toMatchObject({ pageNum: 1, pageSize: 5, totalNum: ROWS_PER_IP });
    expect(page.rows.map((r) => r.ip)).toEqual(Array(5).fill(ip));
  });

  it('a JWT client asks /auth/token once and reuses the token for later calls', async () => {
    const { fetch, sent } = counting();
    const sdk = client({ type: 'jwt', credentials: signature }, { fetch });
    await Promise.all([sdk.page('cpu-mem-5min', { ip, pageSize: 1 }), sdk.page('cpu-mem-5min', { ip, pageSize: 2 })]);
    await sdk.call('cpu-mem-5min', { ip, pageSize: 1 });
    expect(sent.filter((p) => p === '/auth/token')).toHaveLength(1);
    expect(sent.filter((p) => p === '/api/cpu-mem-5min')).toHaveLength(3);
  });

  it('a bearer token from issueToken() works; an expired one is TOKEN_EXPIRED (4105), and a token provider is asked again', async () => {
    const issued = await client(appCode).issueToken();
    expect(issued).toMatchObject({ tokenType: 'Bearer', appKey: TEST_APP.appKey });
    expect((await client({ type: 'bearer', token: issued.token }).page('cpu-mem-5min', { ip, pageSize: 1 })).rows).toHaveLength(1);

    const expired = jwt.sign({ appKey: TEST_APP.appKey, grants: [], exp: Math.floor(Date.now() / 1000) - 60 }, JWT_KEY.secret, {
      algorithm: 'HS256',
      keyid: JWT_KEY.kid,
      issuer: 'rollgate',
      audience: 'rollgate-api',
      subject: TEST_APP.appKey,
    });
    const err = await apiError(client({ type: 'bearer', token: expired }).call('cpu-mem-5min', { ip }));
    expect(err).toMatchObject({ errCode: 4105, code: 'TOKEN_EXPIRED', httpStatus: 401, attempts: 1 });

    const handedOut: string[] = [];
    const provider = async () => {
      handedOut.push(handedOut.length === 0 ? expired : issued.token);
      return handedOut[handedOut.length - 1] as string;
    };
    const page = await client({ type: 'bearer', token: provider }).page('cpu-mem-5min', { ip, pageSize: 1 });
    expect(page.rows).toHaveLength(1);
    expect(handedOut).toEqual([expired, issued.token]);
  });
});

describe('paging', () => {
  it('rows() walks every page and yields exactly the full result, in the gateway order', async () => {
    const ip = IPS[1];
    const full = await client(appCode).call<Page<CpuMem5minRow>>('cpu-mem-5min', { ip, pageSize: 2000 });
    expect(full.rows).toHaveLength(ROWS_PER_IP);
    const oracle = await ch.query({ query: `SELECT count() AS n FROM ${database}.cpu_mem_5min FINAL WHERE ip = '${ip}'`, format: 'JSONEachRow' });
    expect(Number(((await oracle.json()) as Array<{ n: string }>)[0]?.n)).toBe(full.totalNum);

    const { fetch, sent } = counting();
    const rows = await collect(client(signature, { fetch }).rows('cpu-mem-5min', { ip, pageSize: 7 }));
    expect(rows).toEqual(full.rows);
    expect(sent).toHaveLength(Math.ceil(ROWS_PER_IP / 7));
  });

  it('pages() starts at pageNum and stops at the last page, also when it is full', async () => {
    const ip = IPS[2];
    const pages = await collect(client(appCode).pages('cpu-mem-5min', { ip, pageSize: 23, pageNum: 1 }));
    expect(pages.map((p) => [p.pageNum, p.rows.length])).toEqual([
      [1, 23],
      [2, 23],
    ]);
    const fromThird = await collect(client(appCode).pages('cpu-mem-5min', { ip, pageSize: 10, pageNum: 3 }));
    expect(fromThird.map((p) => p.pageNum)).toEqual([3, 4, 5]);
    expect(fromThird.flatMap((p) => p.rows)).toHaveLength(ROWS_PER_IP - 20);
  });

  it('the host views are typed and equal ClickHouse\'s own GROUP BY (a Date parameter is sent as ISO-8601)', async () => {
    const top = await collect(client(appCode).pages('cpu-mem-top-hosts', { from: new Date(T0), pageSize: 2 }));
    expect(top.map((p) => p.rows.length)).toEqual([2, 1]);
    const oracle = await ch.query({
      query: `SELECT ip, max(cpu_usage_pct) AS cpu, max(mem) AS mem, uniqExact(pid) AS processes FROM ${database}.cpu_mem_5min GROUP BY ip ORDER BY cpu DESC, ip ASC`,
      format: 'JSONEachRow',
    });
    const expected = ((await oracle.json()) as Array<{ ip: string; cpu: number; mem: string; processes: string }>).map((r) => [r.ip, r.cpu, Number(r.mem), Number(r.processes)]);
    expect(top.flatMap((p) => p.rows).map((r) => [r.ip, r.max_cpu_usage_pct, r.max_mem, r.processes])).toEqual(expected);

    const trend = await collect(client(signature).rows('cpu-mem-host-trend', { ip: IPS[0] as string, from: new Date(T0), to: new Date(T0 + 10 * 300_000) }));
    expect(trend.map((r) => r.window_start)).toEqual(Array.from({ length: 10 }, (_, w) => new Date(T0 + w * 300_000).toISOString()));
    expect(trend.map((r) => r.max_cpu_usage_pct)).toEqual(Array.from({ length: 10 }, (_, w) => Math.max((w * 7 + 1) % 100, (w * 7 + 2) % 100)));
  });

  it('an empty result is one empty page and no rows', async () => {
    const pages = await collect(client(appCode).pages('cpu-mem-5min', { ip: '192.0.2.99' }));
    expect(pages).toEqual([{ pageNum: 1, pageSize: 50, totalNum: 0, rows: [] }]);
    expect(await collect(client(appCode).rows('cpu-mem-5min', { ip: '192.0.2.99' }))).toEqual([]);
  });
});

describe('typed errors', () => {
  it('a bad parameter is INVALID_PARAMETER (1400), with the request id, and is not retried', async () => {
    const { fetch, sent } = counting();
    const retries: RetryEvent[] = [];
    const err = await apiError(client(appCode, { fetch, onRetry: (e) => retries.push(e) }).call('cpu-mem-5min', { pid: 'abc' }));
    expect(err).toMatchObject({ errCode: 1400, code: 'INVALID_PARAMETER', httpStatus: 400, attempts: 1, retriable: false });
    expect(err.message).toContain('pid');
    expect(err.requestId).toEqual(expect.any(String));
    expect(sent).toHaveLength(1);
    expect(retries).toEqual([]);
  });

  it('an unknown API is NOT_FOUND (1404); an unknown appCode is UNAUTHENTICATED (1401); an ungranted API is NOT_GRANTED (4303)', async () => {
    expect(await apiError(client(appCode).call('no-such-api'))).toMatchObject({ errCode: 1404, code: 'NOT_FOUND', httpStatus: 404 });
    expect(await apiError(client({ type: 'appCode', appCode: 'not-a-code' }).call('cpu-mem-5min'))).toMatchObject({ errCode: 1401, httpStatus: 401 });
    const bare = await createApp({ grants: [] });
    expect(await apiError(client({ type: 'appCode', appCode: bare.appCode }).call('cpu-mem-5min'))).toMatchObject({ errCode: 4303, code: 'NOT_GRANTED', httpStatus: 403 });
  });

  it('a wrong secret is SIGNATURE_MISMATCH (4101), carrying the server string to sign and never the secret', async () => {
    const err = await apiError(client({ type: 'signature', appKey: TEST_APP.appKey, appSecret: 'wrong-secret-0123456789' }).call('cpu-mem-5min', { ip: IPS[0], pageSize: 3 }));
    expect(err).toMatchObject({ errCode: 4101, code: 'SIGNATURE_MISMATCH', httpStatus: 401 });
    expect(err.serverMessage).toMatch(/^Invalid Signature, Server StringToSign:`GET#application\/json#.*\/api\/cpu-mem-5min\?ip=10\.1\.0\.1&pageSize=3`$/);
    expect(err.serverMessage).not.toContain(TEST_APP.appSecret);
  });
});

describe('retries', () => {
  it('retries 429 after the Retry-After the gateway sent, with a fresh signature nonce each time, until the call succeeds', async () => {
    const limited = await createApp({ grants: ['api:cpu_mem_5min'], rateLimit: { rps: 1, burst: 0 } });
    const retries: RetryEvent[] = [];
    const { fetch, sent } = counting();
    const sdk = client(
      { type: 'signature', appKey: limited.appKey, appSecret: limited.appSecret },
      { fetch, retry: { maxRetries: 8 }, onRetry: (e) => retries.push(e) },
    );
    const pages = await Promise.all(Array.from({ length: 4 }, () => sdk.page('cpu-mem-5min', { ip: IPS[0], pageSize: 1 })));
    expect(pages.every((p) => p.rows.length === 1)).toBe(true);
    expect(retries.length).toBeGreaterThan(0);
    for (const { error, delayMs } of retries) {
      expect(error).toBeInstanceOf(RollgateApiError);
      expect(error).toMatchObject({ errCode: 1429, httpStatus: 429 });
      const retryAfterMs = (error as RollgateApiError).retryAfterMs ?? 0;
      expect(retryAfterMs).toBeGreaterThanOrEqual(1000);
      expect(delayMs).toBeGreaterThanOrEqual(retryAfterMs);
    }
    expect(sent).toHaveLength(4 + retries.length);
  });

  it('without retries a 429 is RATE_LIMITED (1429) with retryAfterMs; a Retry-After past the deadline is not waited for', async () => {
    const limited = await createApp({ grants: ['api:cpu_mem_5min'], rateLimit: { rps: 1, burst: 0 } });
    const auth: Auth = { type: 'appCode', appCode: limited.appCode };
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => client(auth, { retry: false }).call('cpu-mem-5min', { pageSize: 1 })));
    const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as RollgateApiError] : []));
    expect(failures.length).toBeGreaterThan(0);
    for (const err of failures) {
      expect(err).toBeInstanceOf(RollgateApiError);
      expect(err).toMatchObject({ errCode: 1429, code: 'RATE_LIMITED', httpStatus: 429, attempts: 1, retriable: true });
      expect(err.retryAfterMs).toBeGreaterThanOrEqual(1000);
    }

    // A 500 ms budget cannot wait out a Retry-After of at least a second: the 429 comes back at once, not a timeout.
    const { fetch, sent } = counting();
    const tight = client(auth, { fetch, timeoutMs: 500 });
    const settled = await Promise.allSettled(Array.from({ length: 4 }, () => tight.call('cpu-mem-5min', { pageSize: 1 })));
    const reasons = settled.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    expect(reasons.length).toBeGreaterThan(0);
    for (const reason of reasons) expect(reason).toMatchObject({ errCode: 1429 });
    expect(sent).toHaveLength(4);
  });

  it('retries a refused connection with backoff, then throws RollgateNetworkError', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const retries: RetryEvent[] = [];
    const sdk = new RollgateClient({ baseUrl: `http://127.0.0.1:${port}`, auth: appCode, retry: { maxRetries: 2, baseDelayMs: 10 }, onRetry: (e) => retries.push(e) });
    const err = await rejection(sdk.call('cpu-mem-5min'));
    expect(err).toBeInstanceOf(RollgateNetworkError);
    expect(err).toMatchObject({ attempts: 3, retriable: true });
    expect(retries.map((r) => r.retry)).toEqual([1, 2]);
  });
});

describe('abort and timeout', () => {
  let silent: Server;
  let silentBase: string;
  const held: Socket[] = [];

  beforeAll(async () => {
    // Accepts connections and never answers: a gateway that hangs.
    silent = createServer((socket) => {
      held.push(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentBase = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('an already aborted signal sends nothing and rejects with its reason', async () => {
    const { fetch, sent } = counting();
    const controller = new AbortController();
    controller.abort();
    const err = await rejection(client(appCode, { fetch }).call('cpu-mem-5min', {}, { signal: controller.signal }));
    expect(err).toMatchObject({ name: 'AbortError' });
    expect(sent).toEqual([]);
  });

  it('aborting while a request is in flight rejects with the abort reason', async () => {
    const controller = new AbortController();
    const sdk = new RollgateClient({ baseUrl: silentBase, auth: appCode });
    const call = sdk.call('cpu-mem-5min', {}, { signal: controller.signal });
    const reason = new Error('user left the page');
    controller.abort(reason);
    expect(await rejection(call)).toBe(reason);
  });

  it('aborting during a Retry-After wait stops the retries', async () => {
    const limited = await createApp({ grants: ['api:cpu_mem_5min'], rateLimit: { rps: 1, burst: 0 } });
    const controller = new AbortController();
    const { fetch, sent } = counting();
    const sdk = client({ type: 'appCode', appCode: limited.appCode }, { fetch, retry: { maxRetries: 5 }, onRetry: () => controller.abort() });
    const outcomes = await Promise.allSettled(Array.from({ length: 4 }, () => sdk.call('cpu-mem-5min', { pageSize: 1 }, { signal: controller.signal })));
    const aborted = outcomes.filter((o) => o.status === 'rejected' && (o.reason as Error).name === 'AbortError');
    expect(aborted.length).toBeGreaterThan(0);
    // Every call sent one request: the ones waiting to retry were stopped in their wait.
    expect(sent).toHaveLength(4);
  });

  it('timeoutMs bounds a call that gets no answer: RollgateTimeoutError', async () => {
    const sdk = new RollgateClient({ baseUrl: silentBase, auth: appCode, timeoutMs: 300 });
    const err = await rejection(sdk.call('cpu-mem-5min'));
    expect(err).toBeInstanceOf(RollgateTimeoutError);
    expect(err).toMatchObject({ timeoutMs: 300 });
  });
});

describe('GraphQL with the generated operations', () => {
  it('CpuMemRollups returns the rows REST returns, signed (JSON body with Content-MD5) and with a JWT', async () => {
    const ip = IPS[0];
    const rest = await client(appCode).call<Page<CpuMem5minRow>>('cpu-mem-5min', { ip, pageSize: 2000 });
    for (const auth of [signature, { type: 'jwt', credentials: appCode } as Auth]) {
      const data = await client(auth).graphql(CpuMemRollupsDocument, { filter: { ip }, pageSize: 100 });
      expect(data.cpuMemRollups.totalNum).toBe(ROWS_PER_IP);
      expect(
        data.cpuMemRollups.rows.map((r) => ({
          window_start: r.windowStart,
          ip: r.ip,
          pid: r.pid,
          mem: r.mem,
          cpu_usage_pct: r.cpuUsagePct,
          mem_usage_pct: r.memUsagePct,
          samples: r.samples,
          final: r.final,
        })),
      ).toEqual(rest.rows);
    }
  });

  it('nodes() walks a Relay connection to its end: every row REST pages give, in the same order, no page twice', async () => {
    const ip = IPS[0];
    const rest = await client(appCode).call<Page<CpuMem5minRow>>('cpu-mem-5min', { ip, pageSize: 2000 });
    const sdk = client({ type: 'jwt', credentials: appCode });
    const cursors: Array<string | null | undefined> = [];
    const walked: string[] = [];
    const pageSize = Math.ceil(ROWS_PER_IP / 3) + 1;
    for await (const node of sdk.nodes(CpuMemRollupConnectionDocument, { filter: { ip }, first: pageSize }, (d) => {
      cursors.push(d.cpuMemRollupConnection.pageInfo.endCursor);
      return d.cpuMemRollupConnection;
    })) {
      walked.push(`${node.windowStart}/${node.pid}`);
    }
    expect(walked).toEqual(rest.rows.map((r) => `${r.window_start}/${r.pid}`));
    expect(cursors).toHaveLength(Math.ceil(ROWS_PER_IP / pageSize));
    expect(new Set(cursors).size).toBe(cursors.length);
    // An empty connection ends at once.
    const none: unknown[] = [];
    for await (const node of sdk.nodes(CpuMemRollupConnectionDocument, { filter: { ip: '203.0.113.99' }, first: 10 }, (d) => d.cpuMemRollupConnection)) none.push(node);
    expect(none).toEqual([]);
  });

  it('RegionOrderTotals and RegionOrderTrend equal MySQL\'s own rows, as REST rows() does for these unpaged APIs', async () => {
    const [totals] = await my.query(`SELECT order_region, order_cnt, CAST(order_total_revenue AS CHAR) AS revenue FROM ${database}.region_order_totals ORDER BY order_region`);
    const expected = (totals as Array<{ order_region: string; order_cnt: number; revenue: string }>).map((r) => ({
      region: r.order_region,
      orderCnt: r.order_cnt,
      orderTotalRevenueDecimal: r.revenue,
    }));
    expect(expected).toHaveLength(3);
    const data = await client(signature).graphql(RegionOrderTotalsDocument, {});
    expect(data.regionOrderTotals.map(({ region, orderCnt, orderTotalRevenueDecimal }) => ({ region, orderCnt, orderTotalRevenueDecimal }))).toEqual(expected);
    const rest = await collect(client(appCode).rows('region-order-totals'));
    expect(rest.map((r) => ({ region: r.order_region, orderCnt: r.order_cnt, orderTotalRevenueDecimal: r.order_total_revenue.toFixed(2) }))).toEqual(expected);

    const trend = await client(appCode).graphql(RegionOrderTrendDocument, { region: 'north', from: '2026-11-23T00:00:00.000Z' });
    expect(trend.regionOrderTrend.map((p) => [p.windowStart, p.orderCnt, p.orderTotalRevenueDecimal])).toEqual([
      ['2026-11-23T00:00:00.000Z', 2, '1000.00'],
      ['2026-11-23T00:05:00.000Z', 3, '234.50'],
    ]);
    const trendPages = await collect(client(appCode).pages('region-order-trend', { region: 'north' }));
    expect(trendPages).toHaveLength(1);
    expect(trendPages[0]).toMatchObject({ pageNum: 1, pageSize: 2, totalNum: 2, truncated: false });
    expect(trendPages[0]?.rows.map((r) => [r.window_start, r.order_region, r.order_cnt, r.order_total_revenue])).toEqual([
      ['2026-11-23T00:00:00.000Z', 'north', 2, 1000],
      ['2026-11-23T00:05:00.000Z', 'north', 3, 234.5],
    ]);
  });

  it('a bad variable is a RollgateGraphQLError with INVALID_PARAMETER; an ungranted field is NOT_GRANTED; a refused call keeps its envelope code', async () => {
    const bad = await apiError(client(appCode).graphql(CpuMemRollupsDocument, { pageSize: 'many' as unknown as number }));
    expect(bad).toBeInstanceOf(RollgateGraphQLError);
    expect(bad).toMatchObject({ errCode: 1400, code: 'INVALID_PARAMETER' });

    const bare = await createApp({ grants: [] });
    const denied = await apiError(client({ type: 'appCode', appCode: bare.appCode }).graphql(CpuMemRollupsDocument, {}));
    expect(denied).toBeInstanceOf(RollgateGraphQLError);
    expect(denied).toMatchObject({ errCode: 4303, code: 'NOT_GRANTED' });
    expect((denied as RollgateGraphQLError).errors[0]?.extensions?.code).toBe('NOT_GRANTED');

    const unauthenticated = await apiError(client({ type: 'appCode', appCode: 'not-a-code' }).graphql(CpuMemRollupsDocument, {}));
    expect(unauthenticated).not.toBeInstanceOf(RollgateGraphQLError);
    expect(unauthenticated).toMatchObject({ errCode: 1401, httpStatus: 401 });
  });
});
