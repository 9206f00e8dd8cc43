import { parseEventTime } from '../core/event-time.js';
import type { RollupSpec } from '../core/rollup-spec.js';
import { invalidParameter } from '../errors.js';
import { groupColumnType } from '../store/rollup-store.js';
import type { RollupQuery } from '../store/rollup-store.js';

export interface PageLimits {
  defaultPageSize: number;
  maxPageSize: number;
}

export interface RollupPageRequest {
  query: RollupQuery;
  pageNum: number;
  pageSize: number;
}

/** Raw request values: strings (or repeated strings) from a query string, typed values from GraphQL. */
export type RawParams = Record<string, string | string[] | number | boolean | Date | null | undefined>;

const UINT32_MAX = 4294967295;

/**
 * Checks and converts the parameters of a rollup read. REST and GraphQL both
 * come through here, so both reject the same input with the same codes.
 * Filters: one per group-by column, plus `from`/`to` on the window start.
 */
export function parseRollupParams(spec: RollupSpec, raw: RawParams, limits: PageLimits): RollupPageRequest {
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) throw invalidParameter(name, `${name} must be given once`);
  }
  const equals: Record<string, string | number> = {};
  for (const column of spec.groupBy) {
    const value = present(raw[column]);
    if (value === undefined) continue;
    const type = groupColumnType(spec, column);
    if (type === 'string') {
      const s = String(value);
      if (s.length > 255) throw invalidParameter(column, `${column} must be at most 255 characters`);
      equals[column] = s;
    } else {
      const max = type === 'uint32' ? UINT32_MAX : Number.MAX_SAFE_INTEGER;
      const min = type === 'int64' ? -Number.MAX_SAFE_INTEGER : 0;
      equals[column] = integer(column, value, min, max);
    }
  }
  const finalOnly = flag('final', raw['final']);
  const fromMs = time('from', raw['from']);
  const toMs = time('to', raw['to']);
  if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) {
    throw invalidParameter('from', 'from must not be later than to');
  }
  const pageNum = present(raw['pageNum']) === undefined ? 1 : integer('pageNum', raw['pageNum'], 1, 1_000_000);
  const pageSize =
    present(raw['pageSize']) === undefined ? limits.defaultPageSize : integer('pageSize', raw['pageSize'], 1, limits.maxPageSize);
  return {
    pageNum,
    pageSize,
    query: { equals, fromMs, toMs, finalOnly, limit: pageSize, offset: (pageNum - 1) * pageSize },
  };
}

function present<T>(value: T | null | undefined | ''): T | undefined {
  return value === null || value === undefined || value === '' ? undefined : value;
}

function integer(field: string, value: unknown, min: number, max: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw invalidParameter(field, `${field} must be an integer`);
  if (n < min || n > max) throw invalidParameter(field, `${field} must be between ${min} and ${max}`);
  return n;
}

function flag(field: string, value: unknown): boolean {
  const v = present(value);
  if (v === undefined || v === false || v === 'false' || v === '0') return false;
  if (v === true || v === 'true' || v === '1') return true;
  throw invalidParameter(field, `${field} must be true or false`);
}

function time(field: string, value: unknown): number | undefined {
  const v = present(value);
  if (v === undefined) return undefined;
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw invalidParameter(field, `${field} is not a valid time`);
    return v.getTime();
  }
  const ms = typeof v === 'string' && /^\d+$/.test(v) ? parseEventTime(Number(v)) : parseEventTime(v);
  if (ms === undefined) throw invalidParameter(field, `${field} must be an ISO-8601 time or epoch milliseconds`);
  return ms;
}
