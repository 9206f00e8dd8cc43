import { DUCKDB_DEFAULTS, type DuckDbLimits } from '../config.js';

/**
 * How rollgate opens every DuckDB instance: no file or network access from SQL (published scripts read it), and
 * bounded memory and threads, so a query over it fails with an out-of-memory error instead of taking the gateway.
 */
export function duckDbOptions(limits: DuckDbLimits = DUCKDB_DEFAULTS): Record<string, string> {
  return { enable_external_access: 'false', memory_limit: limits.memoryLimit, threads: String(limits.threads) };
}
