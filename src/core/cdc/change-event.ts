import { encodeRow, type EncodedValue, type TableSchema } from './column-values.js';
import type { BinlogPosition } from './offset.js';

/**
 * Debezium change-event envelopes for one row change. Pure: the CDC runner
 * feeds it row images from the snapshot or the binlog and sends what comes
 * back.
 *
 * Value: `{"before":…,"after":…,"source":{…},"op":"c|u|d|r","ts_ms":…,"transaction":null}`
 * (Debezium's JSON with schemas disabled). Key: the primary key as JSON,
 * e.g. `{"order_id":42}`, or no key for a table without one.
 */

export type ChangeOp = 'c' | 'u' | 'd' | 'r';

/** Debezium's marker: snapshot records say "true" ("last" on the final one), streamed changes "false". */
export type SnapshotMarker = 'true' | 'last' | 'false';

export type RowImage = Readonly<Record<string, unknown>>;

export interface RowChange {
  table: string;
  op: ChangeOp;
  before: RowImage | null;
  after: RowImage | null;
  /** Where the change is in the binlog; for snapshot records, the position the stream continues from. */
  position: BinlogPosition;
  /** When the change was committed (binlog event time, second precision) or the snapshot started. */
  sourceTsMs: number;
  /** MariaDB `domain-server-seq` or MySQL `uuid:n` of the transaction, when the server has one. */
  gtid: string | null;
  snapshot: SnapshotMarker;
}

export interface SourceContext {
  /** The logical source name (Debezium's topic.prefix), also the key of the CDC's stored offset. */
  connectorName: string;
  connector: 'mysql' | 'mariadb';
  /** The id of the database server that wrote the binlog. */
  serverId: number;
  database: string;
}

export interface SourceBlock {
  version: string;
  connector: 'mysql' | 'mariadb';
  name: string;
  ts_ms: number;
  snapshot: SnapshotMarker;
  db: string;
  table: string;
  server_id: number;
  gtid: string | null;
  file: string;
  pos: number;
  row: number;
  thread: null;
  query: null;
}

export interface ChangeEnvelope {
  before: Record<string, EncodedValue> | null;
  after: Record<string, EncodedValue> | null;
  source: SourceBlock;
  op: ChangeOp;
  ts_ms: number;
  transaction: null;
}

export interface ChangeRecord {
  table: string;
  /** JSON of the primary key, or null for a table without one. */
  key: string | null;
  envelope: ChangeEnvelope;
  headers: Record<string, string>;
}

export const CDC_VERSION = 'rollgate-cdc/1';

/** Header naming values that could not take their column's usual form (see column-values.ts). */
export const CDC_WARNING_HEADER = 'rollgate-cdc-warning';

/**
 * The records for one row change. Usually one; an UPDATE that changes the
 * primary key becomes a delete under the old key and a create under the new
 * one (as Debezium does), so a consumer keyed by primary key sees the old
 * row go away. `processedAtMs` is the envelope's ts_ms: when CDC handled it.
 */
export function changeRecords(change: RowChange, schema: TableSchema, context: SourceContext, processedAtMs: number): ChangeRecord[] {
  const warnings: string[] = [];
  const encode = (image: RowImage | null) => {
    if (image === null) return null;
    const { values, warnings: w } = encodeRow(schema, image);
    warnings.push(...w);
    return values;
  };
  const before = encode(change.before);
  const after = encode(change.after);
  const headers = (extra: Record<string, string> = {}) => ({
    ...extra,
    ...(warnings.length > 0 ? { [CDC_WARNING_HEADER]: warnings.join('; ') } : {}),
  });
  const source: SourceBlock = {
    version: CDC_VERSION,
    connector: context.connector,
    name: context.connectorName,
    ts_ms: change.sourceTsMs,
    snapshot: change.snapshot,
    db: context.database,
    table: change.table,
    server_id: context.serverId,
    gtid: change.gtid,
    file: change.position.file,
    pos: change.position.pos,
    row: change.position.row,
    thread: null,
    query: null,
  };
  const envelope = (op: ChangeOp, b: ChangeEnvelope['before'], a: ChangeEnvelope['after']): ChangeEnvelope => ({
    before: b,
    after: a,
    source,
    op,
    ts_ms: processedAtMs,
    transaction: null,
  });

  const keyBefore = before === null ? null : primaryKeyJson(schema, before);
  const keyAfter = after === null ? null : primaryKeyJson(schema, after);
  if (change.op === 'u' && keyBefore !== null && keyAfter !== null && keyBefore !== keyAfter) {
    return [
      { table: change.table, key: keyBefore, envelope: envelope('d', before, null), headers: headers({ '__debezium.newkey': keyAfter }) },
      { table: change.table, key: keyAfter, envelope: envelope('c', null, after), headers: headers({ '__debezium.oldkey': keyBefore }) },
    ];
  }
  return [{ table: change.table, key: change.op === 'd' ? keyBefore : keyAfter, envelope: envelope(change.op, before, after), headers: headers() }];
}

/** `{"id":42}`: the primary-key columns of an encoded row, in key order; null when the table has no primary key. */
export function primaryKeyJson(schema: TableSchema, values: Readonly<Record<string, EncodedValue>>): string | null {
  if (schema.primaryKey.length === 0) return null;
  const key: Record<string, EncodedValue> = {};
  for (const column of schema.primaryKey) key[column] = values[column] ?? null;
  return JSON.stringify(key);
}
