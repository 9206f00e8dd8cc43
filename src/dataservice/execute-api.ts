import { bindRequest, type PageLimits, type RawRequest } from './bind-request.js';
import { approximateRowBytes, resultTooLarge } from './datasources/result-size.js';
import type { BoundSql } from './bound-sql.js';
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
  /** The statements as they ran, values inlined safely (for the admin test call only: rendered when asked). */
  sql: () => string[];
}

export interface ExecutionContext {
  apiId: string;
  version: number | 'draft';
  /** The data source's identity (DataSources.identity): part of every cache key. */
  source: string;
  limits: PageLimits & { maxRows: number; timeoutMs: number; maxResultBytes?: number };
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
    return { data: JSON.parse(cached.value) as PagedData | UnpagedData, format: request.format, cache: cached.outcome, timingMs: elapsed(), sql: () => [] };
  }

  const maxRows = def.maxRows ?? ctx.limits.maxRows;
  const compiled = api.compile(request, maxRows);
  const maxBytes = ctx.limits.maxResultBytes;
  const options = { timeoutMs: def.timeoutMs ?? ctx.limits.timeoutMs, maxRows: compiled.fetchRows, ...(maxBytes === undefined ? {} : { maxBytes }) };
  const count = async (statement: BoundSql) => Number((await api.connector.query(statement, { ...options, maxRows: 1 })).rows[0]?.['total'] ?? 0);
  // Where the store counts the rows before LIMIT along with the page, one query is enough.
  const countApart = compiled.count !== undefined && !api.connector.countsBeforeLimit ? compiled.count : undefined;
  const [result, counted] = await Promise.all([api.connector.query(compiled.rows, options), countApart === undefined ? undefined : count(countApart)]);
  const shaped = shapeRows(result.rows, def.responseParams, def.mode === 'script');
  let data: PagedData | UnpagedData;
  if (request.page !== undefined && compiled.count !== undefined) {
    const totalNum = counted ?? result.totalBeforeLimit ?? (await count(compiled.count));
    data = { pageNum: request.page.pageNum, pageSize: request.page.pageSize, totalNum, rows: shaped };
  } else {
    data = { rows: shaped.slice(0, maxRows), truncated: shaped.length > maxRows, rowLimit: maxRows };
  }
  // The connectors stop reading past the cap; this also holds for what the rows become once shaped (counted,
  // not serialized: the reply serializes them once).
  if (maxBytes !== undefined && data.rows.reduce((n, row) => n + approximateRowBytes(row), 0) > maxBytes) throw resultTooLarge(maxBytes);
  await ctx.cache?.set(key, JSON.stringify(data), api.tables);
  const sql = () => [compiled.rows, ...(countApart === undefined ? [] : [countApart])].map((q) => api.connector.display(q));
  return { data, format: request.format, cache: cached.outcome, timingMs: elapsed(), sql };
}
