import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { DUCKDB_DEFAULTS, type DuckDbLimits } from '../config.js';
import type { ColumnType, RollupSpec } from '../core/rollup-spec.js';
import type { RollupRow } from '../core/windowed-aggregation.js';
import { duckDbOptions } from './duckdb-options.js';
import {
  CHECKPOINT_SEGMENTS_TABLE,
  CHECKPOINT_TABLE,
  groupColumnType,
  resolveChain,
  segmentFromRow,
  toStoredRow,
  type CheckpointSegment,
  type StoredCheckpoint,
  type RollupPage,
  type RollupQuery,
  type RollupStore,
} from './rollup-store.js';

const DUCK_TYPE: Record<ColumnType, string> = {
  string: 'VARCHAR',
  uint32: 'UINTEGER',
  uint64: 'UBIGINT',
  int64: 'BIGINT',
  float64: 'DOUBLE',
};

/** Identifiers come from validated specs (lower-case snake case), so quoting is enough here. */
const q = (name: string) => `"${name}"`;

const ROWS_PER_STATEMENT = 500;

/**
 * The embedded store: DuckDB in-process. Upserts keep the highest version per
 * key with ON CONFLICT … WHERE, the same contract as ClickHouse's
 * ReplacingMergeTree. Writes and reads use separate connections so a read
 * never lands inside a write transaction.
 */
export class DuckDbStore implements RollupStore {
  readonly kind = 'duckdb' as const;
  readonly transactional = true;
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection,
    private readonly reader: DuckDBConnection,
  ) {}

  static async open(path: string, limits: DuckDbLimits = DUCKDB_DEFAULTS): Promise<DuckDbStore> {
    // No file or network access from SQL: published DataService scripts read this instance too.
    const instance = await DuckDBInstance.create(path, duckDbOptions(limits));
    return new DuckDbStore(instance, await instance.connect(), await instance.connect());
  }

  async ensureTable(spec: RollupSpec): Promise<void> {
    const columns = [
      'window_start TIMESTAMP NOT NULL',
      ...spec.groupBy.map((g) => `${q(g)} ${DUCK_TYPE[groupColumnType(spec, g)]} NOT NULL`),
      ...spec.measures.map((m) => `${q(m.name)} ${DUCK_TYPE[m.type]} NOT NULL`),
      'final BOOLEAN NOT NULL',
      'version UBIGINT NOT NULL',
      `PRIMARY KEY (window_start, ${spec.groupBy.map(q).join(', ')})`,
    ];
    await this.writer.run(`CREATE TABLE IF NOT EXISTS ${q(spec.sink.table)} (${columns.join(', ')})`);
    await this.writer.run(
      `CREATE TABLE IF NOT EXISTS ${CHECKPOINT_TABLE} (group_id VARCHAR NOT NULL, topic VARCHAR NOT NULL, "partition" INTEGER NOT NULL,
       next_offset UBIGINT NOT NULL, state VARCHAR NOT NULL, PRIMARY KEY (group_id, topic, "partition"))`,
    );
    await this.writer.run(
      `CREATE TABLE IF NOT EXISTS ${CHECKPOINT_SEGMENTS_TABLE} (group_id VARCHAR NOT NULL, topic VARCHAR NOT NULL, "partition" INTEGER NOT NULL,
       slot INTEGER NOT NULL, chain_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, next_offset UBIGINT NOT NULL, parent_offset BIGINT,
       state VARCHAR NOT NULL, PRIMARY KEY (group_id, topic, "partition", slot))`,
    );
  }

  /** Rows and checkpoints commit together; writers of several rollups take turns on the one connection. */
  write(spec: RollupSpec, rows: readonly RollupRow[], segments: readonly CheckpointSegment[]): Promise<void> {
    const next = this.writes.then(() => this.writeNow(spec, rows, segments));
    this.writes = next.catch(() => undefined);
    return next;
  }

  private async writeNow(spec: RollupSpec, rows: readonly RollupRow[], segments: readonly CheckpointSegment[]): Promise<void> {
    if (rows.length === 0 && segments.length === 0) return;
    await this.writer.run('BEGIN TRANSACTION');
    try {
      await this.upsertRows(spec, rows);
      for (const c of segments) {
        await this.writer.run(
          `INSERT INTO ${CHECKPOINT_SEGMENTS_TABLE} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT DO UPDATE SET chain_id = excluded.chain_id, kind = excluded.kind, next_offset = excluded.next_offset,
             parent_offset = excluded.parent_offset, state = excluded.state
           WHERE excluded.next_offset >= ${CHECKPOINT_SEGMENTS_TABLE}.next_offset`,
          [c.groupId, c.topic, c.partition, c.slot, c.chainId, c.kind, BigInt(c.nextOffset), c.parentOffset === null ? null : BigInt(c.parentOffset), c.state],
        );
      }
      await this.writer.run('COMMIT');
    } catch (err) {
      await this.writer.run('ROLLBACK');
      throw err;
    }
  }

  async loadCheckpoint(groupId: string, topic: string, partition: number): Promise<StoredCheckpoint | undefined> {
    const segments = await this.reader.runAndReadAll(
      `SELECT slot, chain_id, kind, next_offset, parent_offset, state FROM ${CHECKPOINT_SEGMENTS_TABLE} WHERE group_id = $1 AND topic = $2 AND "partition" = $3`,
      [groupId, topic, partition],
    );
    const found = segments.getRowObjects();
    if (found.length > 0) {
      return resolveChain(
        found.map((r) => segmentFromRow(groupId, topic, partition, r)),
      );
    }
    const reader = await this.reader.runAndReadAll(
      `SELECT next_offset, state FROM ${CHECKPOINT_TABLE} WHERE group_id = $1 AND topic = $2 AND "partition" = $3`,
      [groupId, topic, partition],
    );
    const row = reader.getRowObjects()[0];
    return row === undefined ? undefined : { nextOffset: Number(row['next_offset']), states: [String(row['state'])], deltas: 0 };
  }


  async dropBefore(spec: RollupSpec, beforeMs: number): Promise<void> {
    await this.writer.run(`DELETE FROM ${q(spec.sink.table)} WHERE window_start < make_timestamp($1::BIGINT)`, [BigInt(beforeMs) * 1000n]);
  }

  private async upsertRows(spec: RollupSpec, rows: readonly RollupRow[]): Promise<void> {
    if (rows.length === 0) return;
    const cols = ['window_start', ...spec.groupBy, ...spec.measures.map((m) => m.name), 'final', 'version'];
    const updates = cols.filter((c) => c !== 'window_start' && !spec.groupBy.includes(c)).map((c) => `${q(c)} = excluded.${q(c)}`);
    // One statement per chunk: row-at-a-time upserts cost DuckDB milliseconds each. The
    // runner hands over one row per key, which ON CONFLICT in a single statement requires.
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
      const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
      const values: DuckDBValue[] = [];
      const tuples = chunk.map((row) => {
        const base = values.length;
        values.push(
          BigInt(row.windowStart) * 1000n,
          ...spec.groupBy.map((g) => row.group[g] ?? null),
          ...spec.measures.map((m) => row.measures[m.name] ?? 0),
          row.final,
          BigInt(row.version),
        );
        return `(${cols.map((c, j) => (c === 'window_start' ? `make_timestamp($${base + j + 1}::BIGINT)` : `$${base + j + 1}`)).join(', ')})`;
      });
      await this.writer.run(
        `INSERT INTO ${q(spec.sink.table)} (${cols.map(q).join(', ')}) VALUES ${tuples.join(', ')}
         ON CONFLICT DO UPDATE SET ${updates.join(', ')}
         WHERE excluded.version >= ${q(spec.sink.table)}.version`,
        values,
      );
    }
  }

  async query(spec: RollupSpec, query: RollupQuery): Promise<RollupPage> {
    const conditions: string[] = ['TRUE'];
    const params: DuckDBValue[] = [];
    const bind = (v: DuckDBValue) => {
      params.push(v);
      return `$${params.length}`;
    };
    for (const [column, value] of Object.entries(query.equals)) conditions.push(`${q(column)} = ${bind(value)}`);
    if (query.fromMs !== undefined) conditions.push(`window_start >= make_timestamp(${bind(BigInt(query.fromMs) * 1000n)}::BIGINT)`);
    if (query.toMs !== undefined) conditions.push(`window_start < make_timestamp(${bind(BigInt(query.toMs) * 1000n)}::BIGINT)`);
    if (query.finalOnly === true) conditions.push('final');
    const where = conditions.join(' AND ');
    const table = q(spec.sink.table);
    const countReader = await this.reader.runAndReadAll(`SELECT count(*) AS n FROM ${table} WHERE ${where}`, params);
    const columns = [...spec.groupBy, ...spec.measures.map((m) => m.name), 'final'].map(q).join(', ');
    const order = ['window_start DESC', ...spec.groupBy.map(q)].join(', ');
    const dataReader = await this.reader.runAndReadAll(
      `SELECT epoch_ms(window_start) AS window_start_ms, ${columns} FROM ${table} WHERE ${where} ORDER BY ${order} LIMIT ${bind(query.limit)} OFFSET ${bind(query.offset)}`,
      params,
    );
    const totalNum = Number(countReader.getRowObjects()[0]?.['n'] ?? 0);
    return { totalNum, rows: dataReader.getRowObjects().map((r) => toStoredRow(spec, Number(r['window_start_ms']), r, r['final'] === true)) };
  }

  /** The instance itself, so the gateway's built-in data source reads the same in-memory database. */
  get database(): DuckDBInstance {
    return this.instance;
  }

  async ping(): Promise<void> {
    await this.reader.run('SELECT 1');
  }

  async close(): Promise<void> {
    this.writer.closeSync();
    this.reader.closeSync();
    this.instance.closeSync();
  }
}
