/**
 * A rollup is declared, not programmed: the engine, the stores, the event
 * schema and the APIs are all derived from one of these.
 */
import { windowProblems, type WindowSpec } from './window-assignment.js';

export type ColumnType = 'string' | 'uint32' | 'uint64' | 'int64' | 'float64';

/** `distinct` is approximate: a HyperLogLog estimate (see src/core/hyperloglog.ts). */
export type MeasureOp = 'max' | 'min' | 'sum' | 'count' | 'avg' | 'distinct';

export interface SourceField {
  name: string;
  /** `timestamp` accepts epoch milliseconds or an ISO-8601 string. */
  type: ColumnType | 'timestamp';
  minimum?: number;
  maximum?: number;
  description: string;
}

export interface MeasureSpec {
  /** Output column name. */
  name: string;
  op: MeasureOp;
  /** The source field folded; absent for `count`. */
  field?: string;
  type: ColumnType;
  description: string;
}

export interface RollupSpec {
  /** Public name, used by the CLI and the API path: `cpu-mem-5min`. */
  name: string;
  description: string;
  source: {
    topic: string;
    /** Field holding event time. */
    timeField: string;
    /** Fields that make the message key, joined with `:`. */
    keyFields: string[];
    fields: SourceField[];
    /** Larger messages are dead-lettered unparsed. Default 64 KiB. */
    maxPayloadBytes?: number;
    /** Event times further ahead of the message's own timestamp are dead-lettered. Default 1 hour. */
    maxFutureSeconds?: number;
  };
  /** Tumbling, sliding or accumulating (src/core/window-assignment.ts). */
  window: WindowSpec;
  /** Source fields that group rows; each is a column of the sink. */
  groupBy: string[];
  measures: MeasureSpec[];
  /** Events for which this returns false are consumed but not aggregated. Must be pure. */
  filter?: (values: Readonly<Record<string, string | number>>) => boolean;
  /**
   * Where rows go: ClickHouse or MySQL (DuckDB stands in for either when it is
   * not configured). Windows older than `retentionDays` are deleted, and events
   * older than that are dead-lettered.
   */
  sink: { store: 'clickhouse' | 'mysql'; table: string; retentionDays: number };
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024;
export const DEFAULT_MAX_FUTURE_SECONDS = 3600;

/** Catches spec mistakes at load time rather than on the first event. */
export function validateSpec(spec: RollupSpec): void {
  const problems: string[] = [];
  const names = new Set(spec.source.fields.map((f) => f.name));
  const time = spec.source.fields.find((f) => f.name === spec.source.timeField);
  if (time?.type !== 'timestamp') problems.push(`timeField ${spec.source.timeField} must be a timestamp field`);
  for (const g of spec.groupBy) {
    const f = spec.source.fields.find((x) => x.name === g);
    if (f === undefined) problems.push(`groupBy field ${g} is not a source field`);
    else if (f.type === 'timestamp') problems.push(`groupBy field ${g} cannot be a timestamp`);
  }
  for (const k of spec.source.keyFields) {
    if (!names.has(k)) problems.push(`key field ${k} is not a source field`);
    // Windows are kept per partition: every event of a group must land on the same partition.
    if (!spec.groupBy.includes(k)) problems.push(`key field ${k} must be a groupBy field`);
  }
  if (spec.sink.retentionDays <= 0) problems.push('retentionDays must be > 0');
  for (const m of spec.measures) {
    if (m.op === 'count') {
      if (m.field !== undefined) problems.push(`count measure ${m.name} takes no field`);
    } else if (m.field === undefined || !names.has(m.field)) {
      problems.push(`measure ${m.name} needs a source field`);
    }
    if (m.op === 'distinct' && m.type !== 'uint64') problems.push(`distinct measure ${m.name} must be uint64`);
  }
  const columns = ['window_start', 'final', 'version', ...spec.groupBy, ...spec.measures.map((m) => m.name)];
  const dup = columns.find((c, i) => columns.indexOf(c) !== i);
  if (dup !== undefined) problems.push(`column ${dup} appears twice`);
  for (const c of [...columns, spec.sink.table]) {
    if (!/^[a-z_][a-z0-9_]*$/.test(c)) problems.push(`${c} is not a lower-case identifier`);
  }
  problems.push(...windowProblems(spec.window));
  if (problems.length > 0) throw new Error(`invalid rollup spec ${spec.name}: ${problems.join('; ')}`);
}
