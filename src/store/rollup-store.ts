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
  /** Only windows that can no longer change. */
  finalOnly?: boolean;
  limit: number;
  offset: number;
}

export interface RollupPage {
  totalNum: number;
  rows: StoredRollupRow[];
}

/**
 * Where a partition's aggregation resumes: the next offset to read and the
 * open-window state (a JSON AggregationSnapshot) as of that offset.
 */
export interface PartitionCheckpoint {
  groupId: string;
  topic: string;
  partition: number;
  nextOffset: number;
  state: string;
}

/** Table holding checkpoints in every store, beside the rollups they belong to. */
export const CHECKPOINT_TABLE = 'rollgate_checkpoints';

/**
 * Where rollups live. Every adapter keeps, per (window_start, group), the row
 * with the highest version, so writes are idempotent upserts and a replay can
 * only repeat or complete a row, never regress it. Checkpoints are stored with
 * the rows: in the same transaction where the store has them (MySQL, DuckDB),
 * right after them otherwise (ClickHouse), which a replay from the older
 * checkpoint makes harmless because it rewrites identical rows.
 * Reads order newest window first, then by the group columns.
 */
export interface RollupStore {
  readonly kind: 'clickhouse' | 'mysql' | 'duckdb';
  ensureTable(spec: RollupSpec): Promise<void>;
  write(spec: RollupSpec, rows: readonly RollupRow[], checkpoints: readonly PartitionCheckpoint[]): Promise<void>;
  loadCheckpoint(groupId: string, topic: string, partition: number): Promise<PartitionCheckpoint | undefined>;
  query(spec: RollupSpec, query: RollupQuery): Promise<RollupPage>;
  /** Deletes windows that started before `beforeMs` (retention). */
  dropBefore(spec: RollupSpec, beforeMs: number): Promise<void>;
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

/** Turns a row read back from any store into the shape the APIs serve. */
export function toStoredRow(spec: RollupSpec, windowStartMs: number, r: Record<string, unknown>, final: boolean): StoredRollupRow {
  const group: Record<string, string | number> = {};
  for (const g of spec.groupBy) group[g] = isNumericColumn(groupColumnType(spec, g)) ? Number(r[g]) : String(r[g]);
  const measures: Record<string, number> = {};
  // 64-bit integers arrive as strings or bigints; rollup measures stay below 2^53.
  for (const m of spec.measures) measures[m.name] = Number(r[m.name]);
  return { windowStart: windowStartMs, group, measures, final };
}
