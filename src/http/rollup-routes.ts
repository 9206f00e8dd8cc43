import type { FastifyInstance } from 'fastify';
import type { RollupSpec } from '../core/rollup-spec.js';
import type { PageLimits, RawParams } from '../dataservice/rollup-params.js';
import { parseRollupParams } from '../dataservice/rollup-params.js';
import type { RollupService } from '../dataservice/rollup-service.js';
import type { StoredRollupRow } from '../store/rollup-store.js';
import { success } from './envelope.js';

/** `GET /api/<rollup name>`: one page of a rollup in the DataService envelope. */
export function registerRollupRoutes(
  app: FastifyInstance,
  deps: { rollups: readonly RollupSpec[]; service: RollupService; limits: PageLimits },
): void {
  for (const spec of deps.rollups) {
    app.get(`/api/${spec.name}`, async (request) => {
      const page = parseRollupParams(spec, request.query as RawParams, deps.limits);
      const result = await deps.service.page(spec, page);
      return success(request.id, {
        pageNum: page.pageNum,
        pageSize: page.pageSize,
        totalNum: result.totalNum,
        rows: result.rows.map(toApiRow),
      });
    });
  }
}

/** Column names as in the store, window start as ISO-8601 UTC. */
export function toApiRow(row: StoredRollupRow): Record<string, string | number | boolean> {
  return { window_start: new Date(row.windowStart).toISOString(), ...row.group, ...row.measures, final: row.final };
}
