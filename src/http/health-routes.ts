import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';

export interface DependencyCheck {
  name: string;
  check(): Promise<void>;
  /**
   * The process serves on without it, slower or with weaker guarantees (Redis:
   * cache, nonces and rate limits fall back to per-process). Down, it is listed
   * as degraded and the process stays ready, so a load balancer keeps it.
   */
  optional?: boolean;
}

const CHECK_TIMEOUT_MS = 3000;

/** `/healthz`: the process is up. `/readyz`: every dependency this process uses answers. */
export function registerHealthRoutes(app: FastifyInstance, checks: readonly DependencyCheck[], degradations: () => string[] = () => []): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const results = await Promise.all(
      checks.map(async (c) => {
        try {
          await withTimeout(c.check(), CHECK_TIMEOUT_MS);
          return { name: c.name, ok: true as const, optional: c.optional === true };
        } catch (err) {
          return { name: c.name, ok: false as const, optional: c.optional === true, error: err instanceof Error ? err.message : 'unreachable' };
        }
      }),
    );
    const down = results.filter((r) => !r.ok && !r.optional).map((r) => r.name);
    const degraded = [...results.filter((r) => !r.ok && r.optional).map((r) => `${r.name}: unreachable`), ...degradations()];
    reply.code(down.length === 0 ? 200 : 503);
    return {
      status: down.length === 0 ? 'ready' : 'not ready',
      unavailable: down,
      // Serving on, with a weaker guarantee (e.g. rate limits and nonces per process while Redis is away).
      degraded,
      dependencies: Object.fromEntries(results.map((r) => [r.name, r.ok ? 'up' : 'down'])),
    };
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** `/metrics`: Prometheus text for everything this process runs. */
export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
