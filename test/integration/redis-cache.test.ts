import { afterAll, describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../aggregators/cpu-mem-5min.js';
import { RedisCache } from '../../src/cache/cache.js';
import { RollupService } from '../../src/dataservice/rollup-service.js';
import type { RollupStore } from '../../src/store/rollup-store.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { uniqueName } from '../helpers/events.js';
import { silentLogger } from '../helpers/gateway.js';
import { stackEnv } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const stack = stackEnv();
const cache = new RedisCache(stack.REDIS_URL, `${uniqueName('it')}:`, silentLogger);
afterAll(() => cache.close());

describe('RedisCache on the real Redis', () => {
  it('stores under its key prefix and expires entries after their TTL', async () => {
    await cache.connect();
    await cache.set('k', 'v', 300);
    expect(await cache.get('k')).toBe('v');
    expect(await cache.get('other')).toBeUndefined();
    await waitFor('expiry', async () => ((await cache.get('k')) === undefined ? true : undefined), 5000, 50);
  });

  it('lets RollupService answer a repeated page from the cache, not the store', async () => {
    const duck = await DuckDbStore.open(':memory:');
    await duck.ensureTable(cpuMem5min);
    let storeReads = 0;
    const counting: RollupStore = Object.assign(Object.create(duck) as RollupStore, {
      query: (spec: Parameters<RollupStore['query']>[0], q: Parameters<RollupStore['query']>[1]) => ((storeReads += 1), duck.query(spec, q)),
    });
    const service = new RollupService(async () => counting, cache, 60_000, silentLogger);
    const request = { pageNum: 1, pageSize: 10, query: { equals: { ip: uniqueName('ip') }, limit: 10, offset: 0 } };
    const first = await service.page(cpuMem5min, request);
    const second = await service.page(cpuMem5min, request);
    expect(second).toEqual(first);
    expect(storeReads).toBe(1);
    await duck.close();
  });
});
