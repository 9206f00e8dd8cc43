import { afterAll, describe, expect, it } from 'vitest';
import { RedisCache } from '../../src/cache/cache.js';
import { RedisRevisions } from '../../src/cache/rollup-revisions.js';
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
});

describe('RedisRevisions on the real Redis', () => {
  it("carries one process's write announcement to another, which re-keys at once", async () => {
    const table = uniqueName('table');
    const aggregator = new RedisRevisions(stack.REDIS_URL, silentLogger);
    const gateway = new RedisRevisions(stack.REDIS_URL, silentLogger);
    try {
      const before = await waitFor('the subscription', () => gateway.current([table]));
      expect(before).toEqual(['0']);
      await aggregator.advanced(table);
      await aggregator.advanced(table);
      await waitFor('the announcement', async () => ((await gateway.current([table]))?.[0] === '2' ? true : undefined), 5000, 20);
    } finally {
      await aggregator.close();
      await gateway.close();
    }
  });

  it('knows nothing while Redis is unreachable, so callers bypass the cache', async () => {
    const down = new RedisRevisions('redis://127.0.0.1:1', silentLogger);
    try {
      expect(await down.current(['t'])).toBeUndefined();
      await expect(down.advanced('t')).rejects.toThrow();
    } finally {
      await down.close();
    }
  });
});
