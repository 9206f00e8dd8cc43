import { ClickHouseError, type ClickHouseClient } from '@clickhouse/client';
import { clickhouseClient, type ClickHouseEndpoint } from './clickhouse-client.js';
import type { ColumnType, RollupSpec } from '../core/rollup-spec.js';
import type { RollupRow } from '../core/windowed-aggregation.js';
import { ident, join, qualified, sql, type SqlFragment } from '../core/sql-literal.js';
import { RollgateError, dependencyUnavailable } from '../errors.js';
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

const CH_TYPE: Record<ColumnType, string> = {
  string: 'String',
  uint32: 'UInt32',
  uint64: 'UInt64',
  int64: 'Int64',
  float64: 'Float64',
};

/**
 * DDL that runs on ClickHouse 18.16 and current releases. ReplacingMergeTree
 * keeps the highest `version` per sorting key; reads use FINAL so they never
 * see the superseded rows before a merge removes them. Retention is enforced by
 * dropping whole day partitions, which 18.16 (no TTL clause) also supports.
 */
export function clickhouseDdl(spec: RollupSpec, database: string): string {
  const columns = [
    `    ${ident('window_start').text} DateTime`,
    ...spec.groupBy.map((g) => `    ${ident(g).text} ${CH_TYPE[groupColumnType(spec, g)]}`),
    ...spec.measures.map((m) => `    ${ident(m.name).text} ${CH_TYPE[m.type]}`),
    `    ${ident('final').text} UInt8`,
    `    ${ident('version').text} UInt64`,
  ];
  // Group columns lead the sorting key: API reads filter by them (one host's windows), and the
  // day partitions already prune time ranges. Window-first made a per-host page scan the table.
  const orderBy = [...spec.groupBy, 'window_start'].map((c) => ident(c).text).join(', ');
  return [
    `CREATE TABLE IF NOT EXISTS ${qualified(database, spec.sink.table).text}`,
    `(`,
    columns.join(',\n'),
    `)`,
    `ENGINE = ReplacingMergeTree(version)`,
    `PARTITION BY toYYYYMMDD(window_start)`,
    `ORDER BY (${orderBy})`,
  ].join('\n');
}

/**
 * Checkpoint segments: the highest next_offset per slot wins, so a new base
 * or delta replaces the old one without a DELETE (18.16 has none cheap), and
 * an older writer's segment never replaces a newer one. parent_offset is -1
 * for a base.
 */
export function clickhouseSegmentsDdl(database: string): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${qualified(database, CHECKPOINT_SEGMENTS_TABLE).text}`,
    `(`,
    `    group_id String,`,
    `    topic String,`,
    `    partition UInt32,`,
    `    slot UInt32,`,
    `    chain_id String,`,
    `    kind String,`,
    `    next_offset UInt64,`,
    `    parent_offset Int64,`,
    `    state String,`,
    `    updated_at DateTime`,
    `)`,
    `ENGINE = ReplacingMergeTree(next_offset)`,
    `ORDER BY (group_id, topic, partition, slot)`,
  ].join('\n');
}

/** Whole-state checkpoints of earlier versions (read for migration only): the highest next_offset per partition won. */
export function clickhouseCheckpointDdl(database: string): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${qualified(database, CHECKPOINT_TABLE).text}`,
    `(`,
    `    group_id String,`,
    `    topic String,`,
    `    partition UInt32,`,
    `    next_offset UInt64,`,
    `    state String,`,
    `    updated_at DateTime`,
    `)`,
    `ENGINE = ReplacingMergeTree(next_offset)`,
    `ORDER BY (group_id, topic, partition)`,
  ].join('\n');
}

/** Rows per insert: a flush of a million changed series is twenty requests, each well inside the client's timeout. */
const ROWS_PER_INSERT = 50_000;

export class ClickHouseStore implements RollupStore {
  readonly kind = 'clickhouse' as const;
  readonly transactional = false;
  private readonly client: ClickHouseClient;

  constructor(
    private readonly options: ClickHouseEndpoint,
  ) {
    this.client = clickhouseClient(options);
  }

  async ensureTable(spec: RollupSpec): Promise<void> {
    await this.command(sql`CREATE DATABASE IF NOT EXISTS ${ident(this.options.database)}`);
    await classify(this.client.command({ query: clickhouseDdl(spec, this.options.database) }));
    await classify(this.client.command({ query: clickhouseCheckpointDdl(this.options.database) }));
    await classify(this.client.command({ query: clickhouseSegmentsDdl(this.options.database) }));
    await this.checkColumns(spec);
  }

  /**
   * A table made by an earlier spec (a measure added since) keeps its old columns under CREATE IF NOT EXISTS;
   * current servers would then drop the new measure from every insert without a word. Refuse to start instead.
   */
  private async checkColumns(spec: RollupSpec): Promise<void> {
    const present = await this.rows<{ name: string }>(
      sql`SELECT name FROM system.columns WHERE database = ${this.options.database} AND table = ${spec.sink.table}`,
    );
    const have = new Set(present.map((c) => c.name));
    const missing = ['window_start', ...spec.groupBy, ...spec.measures.map((m) => m.name), 'final', 'version'].filter((c) => !have.has(c));
    if (missing.length > 0) {
      throw new RollgateError(
        'INVALID_CONFIG',
        `ClickHouse table ${this.options.database}.${spec.sink.table} has no column ${missing.join(', ')}, which rollup ${spec.name} writes: ` +
          'add the column (ALTER TABLE … ADD COLUMN) or drop the table so rollgate creates it again',
      );
    }
  }

  async write(spec: RollupSpec, rows: readonly RollupRow[], segments: readonly CheckpointSegment[]): Promise<void> {
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) await this.upsert(spec, rows.slice(i, i + ROWS_PER_INSERT));
    // After the rows: a crash in between leaves an older checkpoint, whose replay rewrites the same rows.
    // One insert per segment: a base of a large partition is megabytes on its own.
    for (const c of segments) {
      await classify(
        this.client.insert({
          table: qualified(this.options.database, CHECKPOINT_SEGMENTS_TABLE).text,
          format: 'JSONEachRow',
          values: [
            {
              group_id: c.groupId,
              topic: c.topic,
              partition: c.partition,
              slot: c.slot,
              chain_id: c.chainId,
              kind: c.kind,
              next_offset: c.nextOffset,
              parent_offset: c.parentOffset ?? -1,
              state: c.state,
              updated_at: Math.floor(Date.now() / 1000),
            },
          ],
        }),
      );
    }
  }

  async loadCheckpoint(groupId: string, topic: string, partition: number): Promise<StoredCheckpoint | undefined> {
    const segments = await this.rows<Record<string, unknown>>(
      sql`SELECT slot, chain_id, kind, next_offset, parent_offset, state FROM ${qualified(this.options.database, CHECKPOINT_SEGMENTS_TABLE)} FINAL
          WHERE group_id = ${groupId} AND topic = ${topic} AND partition = ${partition}`,
    );
    if (segments.length > 0) {
      return resolveChain(
        segments.map((r) => segmentFromRow(groupId, topic, partition, r)),
      );
    }
    const rows = await this.rows<{ next_offset: string | number; state: string }>(
      sql`SELECT next_offset, state FROM ${qualified(this.options.database, CHECKPOINT_TABLE)} FINAL
          WHERE group_id = ${groupId} AND topic = ${topic} AND partition = ${partition}`,
    );
    const row = rows[0];
    return row === undefined ? undefined : { nextOffset: Number(row.next_offset), states: [row.state], deltas: 0 };
  }

  async dropBefore(spec: RollupSpec, beforeMs: number): Promise<void> {
    // Whole days only: 18.16 has no TTL, and dropping a day partition is instant on every version.
    const firstKeptDay = Number(new Date(Math.floor(beforeMs / 86_400_000) * 86_400_000).toISOString().slice(0, 10).replaceAll('-', ''));
    const parts = await this.rows<{ partition: string }>(
      sql`SELECT DISTINCT partition FROM system.parts WHERE database = ${this.options.database} AND table = ${spec.sink.table} AND active`,
    );
    for (const { partition } of parts) {
      const day = Number(partition.replaceAll("'", ''));
      if (Number.isInteger(day) && day < firstKeptDay) {
        await this.command(sql`ALTER TABLE ${qualified(this.options.database, spec.sink.table)} DROP PARTITION ${day}`);
      }
    }
  }

  private async upsert(spec: RollupSpec, rows: readonly RollupRow[]): Promise<void> {
    if (rows.length === 0) return;
    await classify(this.client.insert({
      table: qualified(this.options.database, spec.sink.table).text,
      format: 'JSONEachRow',
      // DateTime accepts unix seconds on every version, with no time-zone guessing.
      values: rows.map((r) => ({
        window_start: Math.floor(r.windowStart / 1000),
        ...r.group,
        ...r.measures,
        final: r.final ? 1 : 0,
        version: r.version,
      })),
    }));
  }

  async query(spec: RollupSpec, q: RollupQuery): Promise<RollupPage> {
    const table = qualified(this.options.database, spec.sink.table);
    const where = this.whereClause(q);
    const groupCols = spec.groupBy.map((g) => ident(g));
    const measureCols = spec.measures.map((m) => ident(m.name));
    const select = join([sql`toUInt32(window_start) AS window_start_s`, ...groupCols, ...measureCols, ident('final')], ', ');
    const orderBy = join([sql`window_start DESC`, ...groupCols], ', ');
    const [countRows, dataRows] = await Promise.all([
      this.rows<{ n: string | number }>(sql`SELECT count() AS n FROM ${table} FINAL WHERE ${where}`),
      this.rows<Record<string, unknown>>(
        sql`SELECT ${select} FROM ${table} FINAL WHERE ${where} ORDER BY ${orderBy} LIMIT ${q.offset}, ${q.limit}`,
      ),
    ]);
    return {
      totalNum: Number(countRows[0]?.n ?? 0),
      rows: dataRows.map((r) => toStoredRow(spec, Number(r['window_start_s']) * 1000, r, Number(r['final']) === 1)),
    };
  }

  async ping(): Promise<void> {
    const result = await this.client.ping();
    if (!result.success) throw dependencyUnavailable('clickhouse', result.error);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** Raw rows of a query built with the `sql` tag; used by tests and oracles too. */
  async rows<T>(query: SqlFragment): Promise<T[]> {
    return classify(this.client.query({ query: query.text, format: 'JSONEachRow' }).then((result) => result.json<T>()));
  }

  async command(query: SqlFragment): Promise<void> {
    await classify(this.client.command({ query: query.text }));
  }

  private whereClause(q: RollupQuery): SqlFragment {
    const conditions: SqlFragment[] = [sql`1`];
    for (const [column, value] of Object.entries(q.equals)) conditions.push(sql`${ident(column)} = ${value}`);
    if (q.fromMs !== undefined) conditions.push(sql`window_start >= ${new Date(q.fromMs)}`);
    if (q.toMs !== undefined) conditions.push(sql`window_start < ${new Date(q.toMs)}`);
    if (q.finalOnly === true) conditions.push(sql`final = 1`);
    return join(conditions, ' AND ');
  }
}

/**
 * A server that answered with an error is a bug or a schema problem (INTERNAL);
 * one that did not answer is unavailable, and the call may be retried.
 */
async function classify<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof ClickHouseError) {
      throw new RollgateError('INTERNAL', `clickhouse error ${err.code}`, { cause: err });
    }
    throw dependencyUnavailable('clickhouse', err);
  }
}
