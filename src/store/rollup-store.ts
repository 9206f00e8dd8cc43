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
 * One segment of a partition's checkpoint chain (see resolveChain): slot 0
 * holds a base, slots 1.. the deltas written on it, each applying on the
 * segment one slot below, whose next offset it names as its parent. `state`
 * is an encoded CheckpointData (src/core/checkpoint-codec.ts).
 */
export interface CheckpointSegment {
  groupId: string;
  topic: string;
  partition: number;
  slot: number;
  /** Names the base a delta belongs to: a delta left over from an older chain has another. */
  chainId: string;
  kind: 'base' | 'delta';
  nextOffset: number;
  /** The next offset of the segment in the slot below; null for a base. */
  parentOffset: number | null;
  state: string;
}

/**
 * Where a partition's aggregation resumes: the next offset to read and the
 * open-window state as of that offset, as the segments to apply in order (a
 * base and its deltas, or a single v1 JSON snapshot from the old table).
 */
export interface StoredCheckpoint {
  nextOffset: number;
  states: string[];
  /** Segments in the chain, for logs (0 for a v1 snapshot). */
  deltas: number;
}

/** Checkpoint segments, beside the rollups they belong to; a row per (group_id, topic, partition, slot). */
export const CHECKPOINT_SEGMENTS_TABLE = 'rollgate_checkpoint_segments';
/** Whole-state v1 checkpoints of earlier versions: read when a partition has no segments yet, never written. */
export const CHECKPOINT_TABLE = 'rollgate_checkpoints';

/**
 * A segment as a store reads it back, from the columns every store names
 * alike. parent_offset is NULL for a base where the store has NULLs, and -1 in
 * ClickHouse (a plain Int64, as 18.16 tables have it).
 */
export function segmentFromRow(groupId: string, topic: string, partition: number, r: Record<string, unknown>): CheckpointSegment {
  const parent = r['parent_offset'];
  return {
    groupId,
    topic,
    partition,
    slot: Number(r['slot']),
    chainId: String(r['chain_id']),
    kind: r['kind'] === 'base' ? 'base' : 'delta',
    nextOffset: Number(r['next_offset']),
    parentOffset: parent === null || parent === undefined || Number(parent) < 0 ? null : Number(parent),
    state: String(r['state']),
  };
}

/**
 * The checkpoint a partition's stored segments describe: the base in slot 0
 * and the deltas of the same chain in slots 1, 2, … up to the first slot that
 * is empty or holds a segment of an older chain (a new base overwrites slot 0
 * and leaves the old deltas above it until they are overwritten in turn).
 * A chain whose links do not match, or that continues past a gap, is refused:
 * restoring it would resume from a state no run had.
 */
export function resolveChain(segments: readonly CheckpointSegment[]): StoredCheckpoint | undefined {
  if (segments.length === 0) return undefined;
  const bySlot = new Map(segments.map((s) => [s.slot, s]));
  const base = bySlot.get(0);
  const where = `${segments[0]?.groupId}/${segments[0]?.topic}/${segments[0]?.partition}`;
  if (base === undefined || base.kind !== 'base') throw new Error(`checkpoint of ${where}: slot 0 holds no base`);
  const chain = [base];
  for (let slot = 1; ; slot++) {
    const segment = bySlot.get(slot);
    if (segment === undefined || segment.chainId !== base.chainId) break;
    const parent = chain[chain.length - 1];
    if (segment.kind !== 'delta' || segment.parentOffset !== parent?.nextOffset) {
      throw new Error(`checkpoint of ${where}: slot ${slot} (${segment.kind}, parent ${segment.parentOffset}) does not apply on slot ${slot - 1} (next offset ${parent?.nextOffset})`);
    }
    chain.push(segment);
  }
  const stray = segments.find((s) => s.chainId === base.chainId && s.slot >= chain.length);
  if (stray !== undefined) throw new Error(`checkpoint of ${where}: slot ${stray.slot} belongs to the chain but slot ${chain.length} is missing`);
  const head = chain[chain.length - 1] ?? base;
  return { nextOffset: head.nextOffset, states: chain.map((s) => s.state), deltas: chain.length - 1 };
}

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
  /**
   * True when write() commits rows and segments together. Otherwise the runner
   * writes rows in bounded parts first (each one durable on its own) and the
   * segments after all of them.
   */
  readonly transactional: boolean;
  write(spec: RollupSpec, rows: readonly RollupRow[], segments: readonly CheckpointSegment[]): Promise<void>;
  /** The partition's segment chain (resolveChain), or its v1 checkpoint when it has no segments yet. */
  loadCheckpoint(groupId: string, topic: string, partition: number): Promise<StoredCheckpoint | undefined>;
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
