import mysql, { type Pool, type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import type { ColumnType, RollupSpec } from '../core/rollup-spec.js';
import type { RollupRow } from '../core/windowed-aggregation.js';
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

const MYSQL_TYPE: Record<ColumnType, string> = {
  string: 'VARCHAR(255)',
  uint32: 'INT UNSIGNED',
  uint64: 'BIGINT UNSIGNED',
  int64: 'BIGINT',
  float64: 'DOUBLE',
};

/** Identifiers come from validated specs; backticks make reserved words like `partition` safe. */
const q = (name: string) => `\`${name}\``;

/** `YYYY-MM-DD hh:mm:ss` in UTC: DATETIME has no time zone, and every value here is UTC. */
function utcDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

const ROWS_PER_STATEMENT = 500;

/** The rollup table: one row per (window_start, group), the highest version kept. */
export function mysqlDdl(spec: RollupSpec, database: string): string {
  const columns = [
    '  window_start DATETIME NOT NULL',
    ...spec.groupBy.map((g) => `  ${q(g)} ${MYSQL_TYPE[groupColumnType(spec, g)]} NOT NULL`),
    ...spec.measures.map((m) => `  ${q(m.name)} ${MYSQL_TYPE[m.type]} NOT NULL`),
    '  final TINYINT(1) NOT NULL',
    '  version BIGINT UNSIGNED NOT NULL',
    `  PRIMARY KEY (window_start, ${spec.groupBy.map(q).join(', ')})`,
  ];
  return `CREATE TABLE IF NOT EXISTS ${q(database)}.${q(spec.sink.table)} (\n${columns.join(',\n')}\n) ENGINE=InnoDB`;
}

/**
 * MySQL (and MariaDB) sink. Rows and checkpoints commit in one transaction, so
 * the offsets a partition resumes from always match the rows stored.
 * Upserts keep the highest version per key with ON DUPLICATE KEY UPDATE.
 */
export class MySqlStore implements RollupStore {
  readonly kind = 'mysql' as const;
  readonly transactional = true;
  private readonly pool: Pool;
  private readonly database: string;

  constructor(options: { url: string; database?: string }) {
    const url = new URL(options.url);
    this.database = options.database ?? (decodeURIComponent(url.pathname.replace(/^\//, '')) || 'rollgate');
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(this.database)) throw new RollgateError('INVALID_CONFIG', 'the MySQL database name must be a plain identifier');
    // No default database on the pool: the database may not exist yet, and every statement names it.
    this.pool = mysql.createPool({
      host: url.hostname,
      port: url.port === '' ? 3306 : Number(url.port),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      connectionLimit: 4,
      connectTimeout: 5000,
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
  }

  private table(name: string): string {
    return `${q(this.database)}.${q(name)}`;
  }

  async ensureTable(spec: RollupSpec): Promise<void> {
    await this.run(`CREATE DATABASE IF NOT EXISTS ${q(this.database)}`);
    await this.run(mysqlDdl(spec, this.database));
    await this.run(
      `CREATE TABLE IF NOT EXISTS ${this.table(CHECKPOINT_TABLE)} (
         group_id VARCHAR(255) NOT NULL, topic VARCHAR(255) NOT NULL, \`partition\` INT UNSIGNED NOT NULL,
         next_offset BIGINT UNSIGNED NOT NULL, state LONGTEXT NOT NULL,
         PRIMARY KEY (group_id, topic, \`partition\`)) ENGINE=InnoDB`,
    );
    await this.run(
      `CREATE TABLE IF NOT EXISTS ${this.table(CHECKPOINT_SEGMENTS_TABLE)} (
         group_id VARCHAR(255) NOT NULL, topic VARCHAR(255) NOT NULL, \`partition\` INT UNSIGNED NOT NULL, slot INT UNSIGNED NOT NULL,
         chain_id VARCHAR(64) NOT NULL, kind VARCHAR(8) NOT NULL, next_offset BIGINT UNSIGNED NOT NULL, parent_offset BIGINT NULL,
         state LONGTEXT NOT NULL,
         PRIMARY KEY (group_id, topic, \`partition\`, slot)) ENGINE=InnoDB`,
    );
  }

  async write(spec: RollupSpec, rows: readonly RollupRow[], segments: readonly CheckpointSegment[]): Promise<void> {
    if (rows.length === 0 && segments.length === 0) return;
    const conn = await this.connection();
    try {
      await conn.beginTransaction();
      for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) await this.upsertRows(conn, spec, rows.slice(i, i + ROWS_PER_STATEMENT));
      // The slot keeps the segment with the higher next offset; next_offset is assigned last (left to right).
      const keep = (c: string) => `${c} = IF(VALUES(next_offset) >= next_offset, VALUES(${c}), ${c})`;
      for (const c of segments) {
        await conn.query(
          `INSERT INTO ${this.table(CHECKPOINT_SEGMENTS_TABLE)} (group_id, topic, \`partition\`, slot, chain_id, kind, next_offset, parent_offset, state)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON DUPLICATE KEY UPDATE ${['chain_id', 'kind', 'parent_offset', 'state'].map(keep).join(', ')},
                                   next_offset = GREATEST(next_offset, VALUES(next_offset))`,
          [c.groupId, c.topic, c.partition, c.slot, c.chainId, c.kind, c.nextOffset, c.parentOffset, c.state],
        );
      }
      await conn.commit();
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw classify(err);
    } finally {
      conn.release();
    }
  }

  private async upsertRows(conn: PoolConnection, spec: RollupSpec, rows: readonly RollupRow[]): Promise<void> {
    if (rows.length === 0) return;
    const cols = ['window_start', ...spec.groupBy, ...spec.measures.map((m) => m.name), 'final', 'version'];
    const valueCols = cols.filter((c) => c !== 'window_start' && !spec.groupBy.includes(c) && c !== 'version');
    // `version` is assigned last: MySQL evaluates the assignments left to right with updated values.
    const updates = [
      ...valueCols.map((c) => `${q(c)} = IF(VALUES(version) >= version, VALUES(${q(c)}), ${q(c)})`),
      'version = GREATEST(version, VALUES(version))',
    ];
    const params: Array<string | number | boolean> = [];
    for (const row of rows) {
      params.push(
        utcDateTime(row.windowStart),
        ...spec.groupBy.map((g) => row.group[g] ?? ''),
        ...spec.measures.map((m) => row.measures[m.name] ?? 0),
        row.final ? 1 : 0,
        row.version,
      );
    }
    const tuple = `(${cols.map(() => '?').join(', ')})`;
    await conn.query(
      `INSERT INTO ${this.table(spec.sink.table)} (${cols.map(q).join(', ')}) VALUES ${rows.map(() => tuple).join(', ')}
       ON DUPLICATE KEY UPDATE ${updates.join(', ')}`,
      params,
    );
  }

  async loadCheckpoint(groupId: string, topic: string, partition: number): Promise<StoredCheckpoint | undefined> {
    const segments = await this.select(
      `SELECT slot, chain_id, kind, next_offset, parent_offset, state FROM ${this.table(CHECKPOINT_SEGMENTS_TABLE)}
       WHERE group_id = ? AND topic = ? AND \`partition\` = ?`,
      [groupId, topic, partition],
    );
    if (segments.length > 0) {
      return resolveChain(
        segments.map((r) => segmentFromRow(groupId, topic, partition, r)),
      );
    }
    const rows = await this.select(
      `SELECT next_offset, state FROM ${this.table(CHECKPOINT_TABLE)} WHERE group_id = ? AND topic = ? AND \`partition\` = ?`,
      [groupId, topic, partition],
    );
    const row = rows[0];
    return row === undefined ? undefined : { nextOffset: Number(row['next_offset']), states: [String(row['state'])], deltas: 0 };
  }


  async query(spec: RollupSpec, query: RollupQuery): Promise<RollupPage> {
    const conditions: string[] = ['1 = 1'];
    const params: Array<string | number> = [];
    for (const [column, value] of Object.entries(query.equals)) {
      conditions.push(`${q(column)} = ?`);
      params.push(value);
    }
    if (query.fromMs !== undefined) {
      conditions.push('window_start >= ?');
      params.push(utcDateTime(query.fromMs));
    }
    if (query.toMs !== undefined) {
      conditions.push('window_start < ?');
      params.push(utcDateTime(query.toMs));
    }
    if (query.finalOnly === true) conditions.push('final = 1');
    const where = conditions.join(' AND ');
    const table = this.table(spec.sink.table);
    const columns = [...spec.groupBy, ...spec.measures.map((m) => m.name), 'final'].map(q).join(', ');
    const order = ['window_start DESC', ...spec.groupBy.map(q)].join(', ');
    const [count, data] = await Promise.all([
      this.select(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`, params),
      this.select(
        `SELECT TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', window_start) AS window_start_s, ${columns}
         FROM ${table} WHERE ${where} ORDER BY ${order} LIMIT ? OFFSET ?`,
        [...params, query.limit, query.offset],
      ),
    ]);
    return {
      totalNum: Number(count[0]?.['n'] ?? 0),
      rows: data.map((r) => toStoredRow(spec, Number(r['window_start_s']) * 1000, r, Number(r['final']) === 1)),
    };
  }

  async dropBefore(spec: RollupSpec, beforeMs: number): Promise<void> {
    await this.run(`DELETE FROM ${this.table(spec.sink.table)} WHERE window_start < ?`, [utcDateTime(beforeMs)]);
  }

  async ping(): Promise<void> {
    await this.run('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** Raw rows of a statement with `?` placeholders; used by tests and oracles too. */
  async select(statement: string, params: Array<string | number> = []): Promise<RowDataPacket[]> {
    try {
      const [rows] = await this.pool.query<RowDataPacket[]>(statement, params);
      return rows;
    } catch (err) {
      throw classify(err);
    }
  }

  async run(statement: string, params: Array<string | number> = []): Promise<void> {
    try {
      await this.pool.query(statement, params);
    } catch (err) {
      throw classify(err);
    }
  }

  get databaseName(): string {
    return this.database;
  }

  private async connection(): Promise<PoolConnection> {
    try {
      return await this.pool.getConnection();
    } catch (err) {
      throw classify(err);
    }
  }
}

/** Server errors (ER_*) are bugs or schema problems; anything else means MySQL did not answer. */
function classify(err: unknown): RollgateError {
  if (err instanceof RollgateError) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('ER_')) return new RollgateError('INTERNAL', `mysql error ${code}`, { cause: err });
  return dependencyUnavailable('mysql', err);
}
