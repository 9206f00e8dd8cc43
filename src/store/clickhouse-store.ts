import { ClickHouseError, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { ColumnType, RollupSpec } from '../core/rollup-spec.js';
import type { RollupRow } from '../core/windowed-aggregation.js';
import { ident, join, qualified, sql, type SqlFragment } from '../core/sql-literal.js';
import { RollgateError, dependencyUnavailable } from '../errors.js';
import { groupColumnType, isNumericColumn, type RollupPage, type RollupQuery, type RollupStore, type StoredRollupRow } from './rollup-store.js';

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
  const orderBy = ['window_start', ...spec.groupBy].map((c) => ident(c).text).join(', ');
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

export class ClickHouseStore implements RollupStore {
  readonly kind = 'clickhouse' as const;
  private readonly client: ClickHouseClient;

  constructor(
    private readonly options: { url: string; database: string; user: string; password: string },
  ) {
    this.client = createClient({
      url: options.url,
      username: options.user,
      password: options.password,
      request_timeout: 30_000,
      // 18.16 rejects settings it does not know; send none by default.
      clickhouse_settings: {},
    });
  }

  async ensureTable(spec: RollupSpec): Promise<void> {
    await this.command(sql`CREATE DATABASE IF NOT EXISTS ${ident(this.options.database)}`);
    await classify(this.client.command({ query: clickhouseDdl(spec, this.options.database) }));
  }

  async upsert(spec: RollupSpec, rows: readonly RollupRow[]): Promise<void> {
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
      rows: dataRows.map((r) => toStoredRow(spec, r)),
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

function toStoredRow(spec: RollupSpec, r: Record<string, unknown>): StoredRollupRow {
  const group: Record<string, string | number> = {};
  for (const g of spec.groupBy) {
    const v = r[g];
    group[g] = isNumericColumn(groupColumnType(spec, g)) ? Number(v) : String(v);
  }
  const measures: Record<string, number> = {};
  // UInt64 arrives quoted in JSON; rollup measures stay below 2^53.
  for (const m of spec.measures) measures[m.name] = Number(r[m.name]);
  return { windowStart: Number(r['window_start_s']) * 1000, group, measures, final: Number(r['final']) === 1 };
}
