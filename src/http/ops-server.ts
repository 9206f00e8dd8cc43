import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { registerHealthRoutes, registerMetricsRoute, type DependencyCheck } from './health-routes.js';

/** The small HTTP side of a process that serves no API (an aggregator): /healthz, /readyz, /metrics. */
export async function createOpsServer(deps: { logger: Logger; metrics: Metrics; checks: readonly DependencyCheck[] }): Promise<FastifyInstance> {
  // Scrapes every few seconds would flood the log at info.
  const app = Fastify({ loggerInstance: deps.logger.child({ component: 'ops-http' }, { level: 'warn' }) as FastifyBaseLogger });
  registerHealthRoutes(app, deps.checks);
  registerMetricsRoute(app, deps.metrics);
  return app;
}
