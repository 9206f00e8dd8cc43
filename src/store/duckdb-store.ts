import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import type { ColumnType, RollupSpec } from '../core/rollup-spec.js';
import type { RollupRow } from '../core/windowed-aggregation.js';
import { groupColumnType, isNumericColumn, type RollupPage, type RollupQuery, type RollupStore, type StoredRollupRow } from './rollup-store.js';

const DUCK_TYPE: Record<ColumnType, string> = {
  string: 'VARCHAR',
  uint32: 'UINTEGER',
  uint64: 'UBIGINT',
  int64: 'BIGINT',
  float64: 'DOUBLE',
};

/** Identifiers come from validated specs (lower-case snake case), so quoting is enough here. */
const q = (name: string) => `"${name}"`;

/**
 * The embedded store: DuckDB in-process. Upserts keep the highest version per
 * key with ON CONFLICT … WHERE, the same contract as ClickHouse's
 * ReplacingMergeTree. Writes and reads use separate connections so a read
 * never lands inside a write transaction.
 */
export class DuckDbStore implements RollupStore {
  readonly kind = 'duckdb' as const;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection,
    private readonly reader: DuckDBConnection,
  ) {}

  static async open(path: string): Promise<DuckDbStore> {
    const instance = await DuckDBInstance.create(path);
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
  }

  async upsert(spec: RollupSpec, rows: readonly RollupRow[]): Promise<void> {
    if (rows.length === 0) return;
    const cols = ['window_start', ...spec.groupBy, ...spec.measures.map((m) => m.name), 'final', 'version'];
    const placeholders = cols.map((c, i) => (c === 'window_start' ? `make_timestamp($${i + 1}::BIGINT)` : `$${i + 1}`));
    const updates = cols.filter((c) => c !== 'window_start' && !spec.groupBy.includes(c)).map((c) => `${q(c)} = excluded.${q(c)}`);
    const statement = await this.writer.prepare(
      `INSERT INTO ${q(spec.sink.table)} (${cols.map(q).join(', ')}) VALUES (${placeholders.join(', ')})
       ON CONFLICT DO UPDATE SET ${updates.join(', ')}
       WHERE excluded.version >= ${q(spec.sink.table)}.version`,
    );
    await this.writer.run('BEGIN TRANSACTION');
    try {
      for (const row of rows) {
        const values: DuckDBValue[] = [
          BigInt(row.windowStart) * 1000n,
          ...spec.groupBy.map((g) => row.group[g] ?? null),
          ...spec.measures.map((m) => row.measures[m.name] ?? 0),
          row.final,
          BigInt(row.version),
        ];
        statement.bind(values);
        await statement.run();
      }
      await this.writer.run('COMMIT');
    } catch (err) {
      await this.writer.run('ROLLBACK');
      throw err;
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
    return { totalNum, rows: dataReader.getRowObjects().map((r) => toStoredRow(spec, r)) };
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

function toStoredRow(spec: RollupSpec, r: Record<string, DuckDBValue>): StoredRollupRow {
  const group: Record<string, string | number> = {};
  for (const g of spec.groupBy) group[g] = isNumericColumn(groupColumnType(spec, g)) ? Number(r[g]) : String(r[g]);
  const measures: Record<string, number> = {};
  for (const m of spec.measures) measures[m.name] = Number(r[m.name]);
  return { windowStart: Number(r['window_start_ms']), group, measures, final: r['final'] === true };
}
