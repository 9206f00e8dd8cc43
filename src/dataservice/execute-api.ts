import { bindRequest, type PageLimits, type RawRequest } from './bind-request.js';
import type { PreparedApi } from './prepare-api.js';
import type { CacheOutcome, ResultCache } from './result-cache.js';
import { shapeRows, type OutputRow } from './shape-rows.js';

/** `data` of a paged API (DESIGN.md's envelope). */
export interface PagedData {
  pageNum: number;
  pageSize: number;
  totalNum: number;
  rows: OutputRow[];
}

/** `data` of an unpaged API: the rows up to the cap, and whether the cap cut them. */
export interface UnpagedData {
  rows: OutputRow[];
  truncated: boolean;
  rowLimit: number;
}

export interface ExecutionResult {
  data: PagedData | UnpagedData;
  format: 'envelope' | 'datav';
  cache: CacheOutcome;
  timingMs: number;
  /** The statements as they ran, values inlined safely (for the admin test call only). */
  sql: string[];
}

export interface ExecutionContext {
  apiId: string;
  version: number | 'draft';
  /** The data source's identity (DataSources.identity): part of every cache key. */
  source: string;
  limits: PageLimits & { maxRows: number; timeoutMs: number };
  cache: ResultCache | undefined;
}

/**
 * One call of a prepared API: bind and check the parameters, look in the
 * cache, else compile and run the rows (and the total) on the data source,
 * shape them, and remember the result.
 */
export async function executeApi(api: PreparedApi, raw: RawRequest, ctx: ExecutionContext): Promise<ExecutionResult> {
  const started = performance.now();
  const def = api.definition;
  const request = bindRequest(def, raw, api.dialect, ctx.limits);
  const elapsed = () => Math.round((performance.now() - started) * 100) / 100;

  const key = ctx.cache === undefined ? undefined : await ctx.cache.keyFor({ apiId: ctx.apiId, version: ctx.version, source: ctx.source, tables: api.tables, request: request.cacheKey });
  const cached = ctx.cache === undefined ? { value: undefined, outcome: 'bypass' as const } : await ctx.cache.get(key);
  if (cached.value !== undefined) {
    return { data: JSON.parse(cached.value) as PagedData | UnpagedData, format: request.format, cache: cached.outcome, timingMs: elapsed(), sql: [] };
  }

  const maxRows = def.maxRows ?? ctx.limits.maxRows;
  const compiled = api.compile(request, maxRows);
  const options = { timeoutMs: def.timeoutMs ?? ctx.limits.timeoutMs, maxRows: compiled.fetchRows };
  const [result, total] = await Promise.all([
    api.connector.query(compiled.rows, options),
    compiled.count === undefined ? undefined : api.connector.query(compiled.count, { ...options, maxRows: 1 }),
  ]);
  const shaped = shapeRows(result.rows, def.responseParams, def.mode === 'script');
  let data: PagedData | UnpagedData;
  if (request.page !== undefined) {
    const first = total?.rows[0];
    const totalNum = first === undefined ? 0 : Number(Object.values(first)[0]);
    data = { pageNum: request.page.pageNum, pageSize: request.page.pageSize, totalNum, rows: shaped };
  } else {
    data = { rows: shaped.slice(0, maxRows), truncated: shaped.length > maxRows, rowLimit: maxRows };
  }
  await ctx.cache?.set(key, JSON.stringify(data), api.tables);
  const sql = [compiled.rows, ...(compiled.count === undefined ? [] : [compiled.count])].map((q) => api.connector.display(q));
  return { data, format: request.format, cache: cached.outcome, timingMs: elapsed(), sql };
}
