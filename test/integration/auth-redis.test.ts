import { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../aggregators/cpu-mem-5min.js';
import { NonceStore } from '../../src/auth/nonce-store.js';
import { AppRateLimiter } from '../../src/auth/rate-limit.js';
import type { Runtime } from '../../src/runtime.js';
import { expectCode } from '../helpers/errors.js';
import { uniqueName } from '../helpers/events.js';
import { silentLogger, stackGateway, TEST_APP } from '../helpers/gateway.js';
import { signedRequest } from '../helpers/signing.js';
import { stackEnv } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/** Nonces and rate limits on the real Redis: shared by gateway instances, and per process while Redis is away. */
const stack = stackEnv();
const UNREACHABLE = 'redis://127.0.0.1:1';
const clients: Redis[] = [];

function client(url: string): Redis {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 1000 });
  redis.on('error', () => undefined);
  clients.push(redis);
  return redis;
}

async function connected(url: string): Promise<Redis> {
  const redis = client(url);
  await redis.connect();
  return redis;
}

afterAll(() => {
  for (const c of clients) c.disconnect();
});

describe('NonceStore', () => {
  it('remembers a nonce in Redis with SET NX PX for the whole window, across instances', async () => {
    const prefix = `${uniqueName('it-nonce')}:`;
    const one = new NonceStore(await connected(stack.REDIS_URL), prefix, 30 * 60_000, silentLogger);
    const two = new NonceStore(await connected(stack.REDIS_URL), prefix, 30 * 60_000, silentLogger);
    expect(await one.remember('app', 'n-1')).toBe(true);
    expect(await one.remember('app', 'n-1')).toBe(false);
    expect(await two.remember('app', 'n-1')).toBe(false);
    expect(await two.remember('other-app', 'n-1')).toBe(true);
    const ttl = await (await connected(stack.REDIS_URL)).pttl(`${prefix}app:n-1`);
    expect(ttl).toBeGreaterThan(29 * 60_000);
    expect(one.degraded).toBe(false);
  });

  it('falls back to a per-process cache while Redis is unreachable, and says so', async () => {
    const store = new NonceStore(client(UNREACHABLE), 'x:', 60_000, silentLogger);
    expect(store.degraded).toBe(true);
    expect(await store.remember('app', 'n')).toBe(true);
    expect(await store.remember('app', 'n')).toBe(false);
  });
});

describe('AppRateLimiter', () => {
  it('counts an app across instances in Redis: 2 rps plus a burst of 1, then RATE_LIMITED with Retry-After', async () => {
    const prefix = `${uniqueName('it-rl')}:`;
    const one = new AppRateLimiter(await connected(stack.REDIS_URL), prefix);
    const two = new AppRateLimiter(await connected(stack.REDIS_URL), prefix);
    const limit = { rps: 2, burst: 1 };
    await one.consume('app', limit);
    await two.consume('app', limit);
    await one.consume('app', limit);
    const err = await expectCode(two.consume('app', limit), 'RATE_LIMITED');
    expect(err.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    // Another app has its own budget.
    await one.consume('other', limit);
  });

  it('limits per process with the insurance limiter while Redis is unreachable', async () => {
    const limiter = new AppRateLimiter(client(UNREACHABLE), `${uniqueName('it-rl')}:`);
    expect(limiter.degraded).toBe(true);
    await limiter.consume('app', { rps: 1, burst: 0 });
    await limiter.consume('app', { rps: 1, burst: 0 });
    await expectCode(limiter.consume('app', { rps: 1, burst: 0 }), 'RATE_LIMITED');
  });
});

describe('gateways on the real stack', () => {
  const database = uniqueName('rollgate_auth');
  const env = { CLICKHOUSE_URL: stack.CLICKHOUSE_URL, CLICKHOUSE_DATABASE: database, MYSQL_URL: stack.MYSQL_URL, REDIS_URL: stack.REDIS_URL };
  let a: { app: FastifyInstance; rt: Runtime };
  let b: { app: FastifyInstance; rt: Runtime };
  let down: { app: FastifyInstance; rt: Runtime };

  beforeAll(async () => {
    a = await stackGateway(env);
    await (await a.rt.storeFor(cpuMem5min)).ensureTable(cpuMem5min);
    b = await stackGateway(env);
    down = await stackGateway({ ...env, REDIS_URL: UNREACHABLE });
  });

  afterAll(async () => {
    await a?.app.close();
    await b?.app.close();
    await down?.app.close();
  });

  const signed = () => signedRequest({ method: 'GET', url: '/api/cpu-mem-5min?pageSize=1', appKey: TEST_APP.appKey, appSecret: TEST_APP.appSecret }).headers;

  it('refuses at one instance a nonce first used at another (4102)', async () => {
    const headers = signed();
    const first = await a.app.inject({ url: '/api/cpu-mem-5min?pageSize=1', headers });
    expect(first.statusCode, first.body).toBe(200);
    const replay = await b.app.inject({ url: '/api/cpu-mem-5min?pageSize=1', headers });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().errCode).toBe(4102);
  });

  it('keeps serving with Redis unreachable: /readyz names the degradation, replays are still refused per process', async () => {
    const readyz = await down.app.inject({ url: '/readyz' });
    // Still ready: a load balancer must keep an instance that serves on without Redis.
    expect(readyz.statusCode).toBe(200);
    const ready = readyz.json();
    expect(ready.degraded).toEqual(['redis: unreachable', 'nonces: per process (redis unreachable)', 'rate limits: per process (redis unreachable)']);
    expect(ready.dependencies.redis).toBe('down');
    const healthy = (await a.app.inject({ url: '/readyz' })).json();
    expect(healthy.degraded).toEqual([]);
    const headers = signed();
    const first = await waitFor('a call to pass auth', async () => {
      const res = await down.app.inject({ url: '/api/cpu-mem-5min?pageSize=1', headers: signed() });
      return res.statusCode === 200 ? res : undefined;
    }, 10_000, 200);
    expect(first.statusCode).toBe(200);
    expect((await down.app.inject({ url: '/api/cpu-mem-5min?pageSize=1', headers })).statusCode).toBe(200);
    expect((await down.app.inject({ url: '/api/cpu-mem-5min?pageSize=1', headers })).json().errCode).toBe(4102);
  });
});
