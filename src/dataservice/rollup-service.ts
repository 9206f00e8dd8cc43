import type { RollupSpec } from '../core/rollup-spec.js';
import type { Cache } from '../cache/cache.js';
import type { Logger } from '../logger.js';
import type { RollupPage, RollupStore } from '../store/rollup-store.js';
import type { RollupPageRequest } from './rollup-params.js';

/**
 * Reads rollup pages for REST and GraphQL alike, through a short-lived shared
 * cache: dashboards poll the same pages, and a rollup changes at most once per
 * aggregator flush.
 */
export class RollupService {
  constructor(
    private readonly storeFor: (spec: RollupSpec) => Promise<RollupStore>,
    private readonly cache: Cache,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  async page(spec: RollupSpec, request: RollupPageRequest): Promise<RollupPage> {
    const store = await this.storeFor(spec);
    if (this.ttlMs === 0) return store.query(spec, request.query);
    const key = `rollup:${spec.name}:${JSON.stringify(request.query)}`;
    const cached = await this.cache.get(key).catch((err: unknown) => {
      this.logger.warn({ err }, 'cache read failed; reading the store');
      return undefined;
    });
    if (cached !== undefined) return JSON.parse(cached) as RollupPage;
    const page = await store.query(spec, request.query);
    await this.cache.set(key, JSON.stringify(page), this.ttlMs).catch((err: unknown) => {
      this.logger.warn({ err }, 'cache write failed');
    });
    return page;
  }
}
