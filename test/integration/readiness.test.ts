import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../helpers/events.js';
import { startRollgate, type RollgateProcess } from '../helpers/rollgate-process.js';
import { stackEnv } from '../helpers/stack.js';
import { appHeaders, TEST_APP_ENV } from '../helpers/gateway.js';

/** A gateway whose ClickHouse is unreachable still starts, says which dependency is down, and fails reads with 503. */
const stack = stackEnv();
let gateway: RollgateProcess;
let base: string;

beforeAll(async () => {
  gateway = startRollgate(['serve'], {
    // Port 1 on loopback: nothing listens there, so connections are refused at once.
    CLICKHOUSE_URL: 'http://127.0.0.1:1',
    CLICKHOUSE_DATABASE: uniqueName('rollgate_ready'),
    REDIS_URL: stack.REDIS_URL,
    MYSQL_URL: stack.MYSQL_URL,
    ...TEST_APP_ENV,
  });
  base = await gateway.url();
});

afterAll(async () => {
  await gateway?.stop();
});

describe('readiness with a dependency down', () => {
  it('/healthz still answers: the process is up', async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
  });

  it('/readyz answers 503 and names ClickHouse, while Redis and MySQL are up', async () => {
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: 'not ready',
      unavailable: ['clickhouse'],
      degraded: [],
      dependencies: { clickhouse: 'down', redis: 'up', mysql: 'up' },
    });
  });

  it('a read answers 503 with DATASOURCE_ERROR in the envelope, naming the data source', async () => {
    const res = await fetch(`${base}/api/cpu-mem-5min`, { headers: appHeaders });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ errCode: 1502, errMsg: 'data source "builtin_clickhouse" is unreachable', data: null });
  });
});
