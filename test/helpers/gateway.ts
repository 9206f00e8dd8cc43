import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { MemoryCache } from '../../src/cache/cache.js';
import { loadConfig } from '../../src/config.js';
import { Metrics } from '../../src/metrics.js';
import { RollupService } from '../../src/dataservice/rollup-service.js';
import type { DependencyCheck } from '../../src/http/health-routes.js';
import { createGateway } from '../../src/http/server.js';
import type { RollupStore } from '../../src/store/rollup-store.js';

export const silentLogger = pino({ level: 'silent' });

/** A gateway on the given store with an in-process cache, for `app.inject()`. */
export async function testGateway(store: RollupStore, checks: DependencyCheck[] = [], env: Record<string, string> = {}): Promise<FastifyInstance> {
  const config = loadConfig({ CACHE_TTL_MS: '0', ...env });
  const app = await createGateway({
    config,
    logger: silentLogger,
    rollupService: new RollupService(async () => store, new MemoryCache(), config.cache.ttlMs, silentLogger),
    checks,
    metrics: new Metrics({ defaultMetrics: false }),
  });
  await app.ready();
  return app;
}

export interface GraphQLResponse<T> {
  data?: T;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}
