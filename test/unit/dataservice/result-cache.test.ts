import { describe, expect, it } from 'vitest';
import { MemoryCache } from '../../../src/cache/cache.js';
import { LocalRevisions, type RollupRevisions } from '../../../src/cache/rollup-revisions.js';
import { ResultCache } from '../../../src/dataservice/result-cache.js';
import { Metrics } from '../../../src/metrics.js';
import { silentLogger } from '../../helpers/gateway.js';

const scope = { apiId: 'a', version: 1, source: 'src#1', tables: ['cpu_mem_5min'], request: '[[],1,50]' };
const make = (revisions: RollupRevisions = new LocalRevisions(), ttl = { ttlMs: 1000, rollupTtlMs: 60_000, l1TtlMs: 250 }) =>
  new ResultCache(new MemoryCache(), revisions, new Set(['cpu_mem_5min']), ttl, new Metrics({ defaultMetrics: false }), silentLogger);

describe('ResultCache', () => {
  it('re-keys results of a rollup table when an aggregator announces a write', async () => {
    const revisions = new LocalRevisions();
    const cache = make(revisions);
    const before = await cache.keyFor(scope);
    await cache.set(before, 'old page', scope.tables);
    expect((await cache.get(before)).value).toBe('old page');
    await revisions.advanced('cpu_mem_5min');
    const after = await cache.keyFor(scope);
    expect(after).not.toBe(before);
    expect(await cache.get(after)).toEqual({ value: undefined, outcome: 'miss' });
  });

  it('keys by data source identity, API version and request', async () => {
    const cache = make();
    const keys = await Promise.all([
      cache.keyFor(scope),
      cache.keyFor({ ...scope, source: 'src#2' }),
      cache.keyFor({ ...scope, version: 2 }),
      cache.keyFor({ ...scope, request: '[[],2,50]' }),
    ]);
    expect(new Set(keys).size).toBe(4);
  });

  it('bypasses the cache for drafts, for a zero TTL, and when revisions cannot be known', async () => {
    expect(await make().keyFor({ ...scope, version: 'draft' })).toBeUndefined();
    expect(await make(undefined, { ttlMs: 1000, rollupTtlMs: 0, l1TtlMs: 0 }).keyFor(scope)).toBeUndefined();
    const unknowable: RollupRevisions = { advanced: async () => undefined, current: async () => undefined, close: async () => undefined };
    const cache = make(unknowable);
    const key = await cache.keyFor(scope);
    expect(key).toBeUndefined();
    expect((await cache.get(key)).outcome).toBe('bypass');
    // Tables no aggregator writes need no revisions.
    expect(await cache.keyFor({ ...scope, tables: ['orders'] })).toBeDefined();
  });
});
