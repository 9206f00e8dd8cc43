import type { RollupRow } from '../core/windowed-aggregation.js';
import type { ColumnType, RollupSpec } from '../core/rollup-spec.js';

/** A rollup row as read back: what the APIs serve. */
export type StoredRollupRow = Omit<RollupRow, 'version'>;

export interface RollupQuery {
  /** Exact matches on group-by columns. */
  equals: Record<string, string | number>;
  /** Window starts in [fromMs, toMs). */
  fromMs?: number;
  toMs?: number;
  limit: number;
  offset: number;
}

export interface RollupPage {
  totalNum: number;
  rows: StoredRollupRow[];
}

/**
 * Where rollups live. Every adapter keeps, per (window_start, group), the row
 * with the highest version, so writes are idempotent upserts and a replay can
 * only repeat or complete a row, never regress it.
 * Reads order newest window first, then by the group columns.
 */
export interface RollupStore {
  readonly kind: 'clickhouse' | 'duckdb';
  ensureTable(spec: RollupSpec): Promise<void>;
  upsert(spec: RollupSpec, rows: readonly RollupRow[]): Promise<void>;
  query(spec: RollupSpec, query: RollupQuery): Promise<RollupPage>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function groupColumnType(spec: RollupSpec, name: string): ColumnType {
  const field = spec.source.fields.find((f) => f.name === name);
  if (field === undefined || field.type === 'timestamp') throw new Error(`${name} is not a group column of ${spec.name}`);
  return field.type;
}

export function isNumericColumn(type: ColumnType): boolean {
  return type !== 'string';
}
