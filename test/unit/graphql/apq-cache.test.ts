import { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RedisApqCache } from '../../../src/graphql/apq-cache.js';

describe('RedisApqCache', () => {
  it('turns a Redis it cannot reach into misses and unstored writes, never a failed request', async () => {
    // Never connected, no offline queue: every command fails at once, as with Redis down.
    const redis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const cache = new RedisApqCache(redis, 'test:apq:', pino({ level: 'silent' }));
    await expect(cache.set('apq:abc', '{ x }', { ttl: 60 })).resolves.toBeUndefined();
    await expect(cache.get('apq:abc')).resolves.toBeUndefined();
    await expect(cache.delete('apq:abc')).resolves.toBe(false);
    redis.disconnect();
  });
});
