import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Cache } from '../cache/cache.js';
import type { RollupRevisions } from '../cache/rollup-revisions.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

export type CacheOutcome = 'hit-l1' | 'hit' | 'miss' | 'bypass';

export interface CacheScope {
  apiId: string;
  version: number | 'draft';
  /** Which data source, and which version or configuration of it, the result came from. */
  source: string;
  /** Tables the API reads; the rollup tables among them key the entry by their revisions. */
  tables: readonly string[];
  /** The canonical request (bindRequest's cacheKey). */
  request: string;
}

/**
 * API results by (API version, canonical parameters, revisions of the rollup
 * tables read): a short in-process L1 in front of the shared cache (Redis).
 * Entries of rollup tables are re-keyed by every aggregator write, so they may
 * live long; other tables' entries expire after the plain TTL. A cache that is
 * down, or revisions that cannot be known, cost speed only: the call reads the
 * store.
 */
export class ResultCache {
  private readonly l1: LRUCache<string, string>;

  constructor(
    private readonly shared: Cache,
    private readonly revisions: RollupRevisions,
    private readonly rollupTables: ReadonlySet<string>,
    private readonly options: { ttlMs: number; rollupTtlMs: number; l1TtlMs: number },
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.l1 = new LRUCache({ max: 5000, ttlAutopurge: false });
  }

  /** The cache key for a call, or undefined when this call must not use the cache. */
  async keyFor(scope: CacheScope): Promise<string | undefined> {
    const tracked = scope.tables.filter((t) => this.rollupTables.has(t)).sort();
    if (this.ttlFor(scope.tables) === 0 || scope.version === 'draft') return undefined;
    const revs = tracked.length === 0 ? [] : await this.revisions.current(tracked);
    if (revs === undefined) return undefined;
    const digest = createHash('sha256').update(`${scope.source}\n${scope.request}`).digest('base64url');
    return `ds:${scope.apiId}:v${scope.version}:${tracked.map((t, i) => `${t}@${revs[i] ?? '0'}`).join(',')}:${digest}`;
  }

  async get(key: string | undefined): Promise<{ value: string; outcome: CacheOutcome } | { value: undefined; outcome: CacheOutcome }> {
    if (key === undefined) return this.count({ value: undefined, outcome: 'bypass' });
    const local = this.l1.get(key);
    if (local !== undefined) return this.count({ value: local, outcome: 'hit-l1' });
    try {
      const shared = await this.shared.get(key);
      if (shared !== undefined) {
        if (this.options.l1TtlMs > 0) this.l1.set(key, shared, { ttl: this.options.l1TtlMs });
        return this.count({ value: shared, outcome: 'hit' });
      }
      return this.count({ value: undefined, outcome: 'miss' });
    } catch (err) {
      this.logger.warn({ err: { message: String(err) } }, 'result cache read failed; reading the store');
      return this.count({ value: undefined, outcome: 'bypass' });
    }
  }

  async set(key: string | undefined, value: string, tables: readonly string[]): Promise<void> {
    if (key === undefined) return;
    const ttl = this.ttlFor(tables);
    if (this.options.l1TtlMs > 0) this.l1.set(key, value, { ttl: Math.min(ttl, this.options.l1TtlMs) });
    await this.shared.set(key, value, ttl).catch((err: unknown) => {
      this.logger.warn({ err: { message: String(err) } }, 'result cache write failed');
    });
  }

  /** Only results read wholly from rollup tables are re-keyed by writes; anything else also reads tables nobody announces. */
  private ttlFor(tables: readonly string[]): number {
    return tables.length > 0 && tables.every((t) => this.rollupTables.has(t)) ? this.options.rollupTtlMs : this.options.ttlMs;
  }

  private count<T extends { outcome: CacheOutcome }>(result: T): T {
    this.metrics.cacheLookups.inc({ result: result.outcome });
    return result;
  }
}
