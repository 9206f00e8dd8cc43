import mysql, { type Connection, type ConnectionOptions, type RowDataPacket } from 'mysql2/promise';
import { BINLOG_VARIABLES } from '../../core/cdc/binlog-settings.js';
import { columnKind, type TableSchema } from '../../core/cdc/column-values.js';
import type { RowImage } from '../../core/cdc/change-event.js';
import { dependencyUnavailable, RollgateError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { MySqlEndpoint } from '../../store/mysql-url.js';

const q = (name: string) => `\`${name.replace(/`/g, '``')}\``;

/**
 * Connection settings shared by the snapshot and the binlog reader (zongji
 * takes the same mysql2 options), so a row decodes to the same JS values on
 * both paths: UTC for DATETIME/TIMESTAMP, exact strings for DECIMAL and for
 * 64-bit integers beyond 2^53, Date objects for temporal types.
 */
export function cdcConnectionOptions(endpoint: MySqlEndpoint): ConnectionOptions {
  return {
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    password: endpoint.password,
    charset: 'utf8mb4',
    timezone: 'Z',
    dateStrings: false,
    supportBigNumbers: true,
    bigNumberStrings: false,
    decimalNumbers: false,
    connectTimeout: 10_000,
  };
}

/** Where a consistent snapshot sits in the binlog: streaming continues from exactly here. */
export interface SnapshotPoint {
  file: string;
  pos: number;
  gtid: string | null;
  startedAtMs: number;
  /** How the point was taken, for the log. */
  method: 'mariadb-consistent-snapshot' | 'mysql-global-read-lock';
}

/**
 * The read side of the source database for CDC: server settings, table
 * schemas and consistent snapshots. The binlog itself is read by
 * BinlogStream.
 */
export class MySqlCdcSource {
  constructor(
    private readonly endpoint: MySqlEndpoint,
    private readonly logger: Logger,
  ) {}

  get database(): string {
    return this.endpoint.database;
  }

  private async connect(): Promise<Connection> {
    try {
      return await mysql.createConnection(cdcConnectionOptions(this.endpoint));
    } catch (err) {
      throw classify(err);
    }
  }

  /** The global variables the binlog check needs, keyed by lower-case name. */
  async binlogVariables(): Promise<Map<string, string>> {
    const conn = await this.connect();
    try {
      const names = BINLOG_VARIABLES.map(() => '?').join(', ');
      const [rows] = await conn.query<RowDataPacket[]>(`SHOW GLOBAL VARIABLES WHERE Variable_name IN (${names})`, [...BINLOG_VARIABLES]);
      return new Map(rows.map((r) => [String(r['Variable_name']).toLowerCase(), String(r['Value'])]));
    } catch (err) {
      throw classify(err);
    } finally {
      await conn.end().catch(() => undefined);
    }
  }

  /** Current column kinds and primary keys of `tables`; a table that does not exist is left out. */
  async tableSchemas(tables: readonly string[]): Promise<Map<string, TableSchema>> {
    const conn = await this.connect();
    try {
      return await readSchemas(conn, this.endpoint.database, tables);
    } catch (err) {
      throw classify(err);
    } finally {
      await conn.end().catch(() => undefined);
    }
  }

  /**
   * Opens a read view of every table as of one binlog position, the way
   * Debezium takes its snapshot, so that the snapshot plus the binlog after
   * that position is every change exactly once:
   *
   * - MariaDB: START TRANSACTION WITH CONSISTENT SNAPSHOT, then the session
   *   status binlog_snapshot_file/binlog_snapshot_position, which MariaDB
   *   sets to the binlog position of that very read view. No lock at all.
   * - MySQL: FLUSH TABLES WITH READ LOCK (writes wait, for milliseconds),
   *   START TRANSACTION WITH CONSISTENT SNAPSHOT, SHOW BINARY LOG STATUS,
   *   UNLOCK TABLES. Needs the RELOAD privilege, like Debezium's default mode.
   *
   * Rows are then read page by page inside that transaction.
   */
  async openSnapshot(flavor: 'mariadb' | 'mysql', tables: readonly string[]): Promise<Snapshot> {
    const conn = await this.connect();
    try {
      await conn.query("SET SESSION time_zone = '+00:00'");
      await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      const startedAtMs = Date.now();
      let point: SnapshotPoint;
      if (flavor === 'mariadb') {
        await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
        const [rows] = await conn.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'binlog_snapshot_%'");
        const status = new Map(rows.map((r) => [String(r['Variable_name']).toLowerCase(), String(r['Value'])]));
        const file = status.get('binlog_snapshot_file') ?? '';
        const pos = Number(status.get('binlog_snapshot_position'));
        if (file === '' || !Number.isInteger(pos)) throw new RollgateError('INTERNAL', 'MariaDB reported no binlog_snapshot_file/position: is the binlog on?');
        const [gtidRows] = await conn.query<RowDataPacket[]>('SELECT @@GLOBAL.gtid_binlog_pos AS gtid');
        point = { file, pos, gtid: nullIfEmpty(gtidRows[0]?.['gtid']), startedAtMs, method: 'mariadb-consistent-snapshot' };
      } else {
        try {
          await conn.query('FLUSH TABLES WITH READ LOCK');
        } catch (err) {
          throw new RollgateError('INVALID_CONFIG', 'FLUSH TABLES WITH READ LOCK failed: the CDC user needs the RELOAD privilege for its snapshot', { cause: err });
        }
        try {
          await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
          const status = await binaryLogStatus(conn);
          point = { ...status, startedAtMs, method: 'mysql-global-read-lock' };
        } finally {
          await conn.query('UNLOCK TABLES');
        }
      }
      const schemas = await readSchemas(conn, this.endpoint.database, tables);
      this.logger.info({ file: point.file, pos: point.pos, method: point.method, tables: [...schemas.keys()] }, 'snapshot read view open');
      return new Snapshot(conn, this.endpoint.database, point, schemas);
    } catch (err) {
      await conn.end().catch(() => undefined);
      throw classify(err);
    }
  }
}

/** A read view open on its own connection; close() ends it. */
export class Snapshot {
  constructor(
    private readonly conn: Connection,
    private readonly database: string,
    readonly point: SnapshotPoint,
    readonly schemas: ReadonlyMap<string, TableSchema>,
  ) {}

  /**
   * The rows of one table in primary-key order, `pageRows` at a time, by
   * keyset paging (no OFFSET scans). Read with the binary protocol, as the
   * binlog is: FLOAT comes back as the stored float32, not the server's
   * 6-digit text rendering of it. A table without a primary key is read in
   * one page.
   */
  async *pages(table: string, pageRows: number): AsyncGenerator<RowImage[]> {
    const schema = this.schemas.get(table);
    if (schema === undefined) return;
    const from = `${q(this.database)}.${q(table)}`;
    const key = schema.primaryKey;
    if (key.length === 0) {
      yield await this.select(`SELECT * FROM ${from}`, []);
      return;
    }
    const order = key.map(q).join(', ');
    const limit = Math.max(1, Math.floor(pageRows));
    let last: unknown[] | undefined;
    for (;;) {
      const where = last === undefined ? '' : key.length === 1 ? `WHERE ${q(key[0]!)} > ?` : `WHERE (${order}) > (${key.map(() => '?').join(', ')})`;
      const rows = await this.select(`SELECT * FROM ${from} ${where} ORDER BY ${order} LIMIT ${limit}`, last ?? []);
      if (rows.length > 0) yield rows;
      if (rows.length < limit) return;
      const lastRow = rows[rows.length - 1]!;
      last = key.map((k) => lastRow[k]);
    }
  }

  private async select(statement: string, params: unknown[]): Promise<RowImage[]> {
    try {
      const [rows] = await this.conn.execute<RowDataPacket[]>(statement, params as Array<string | number | null>);
      return rows;
    } catch (err) {
      throw classify(err);
    }
  }

  async close(): Promise<void> {
    await this.conn.query('COMMIT').catch(() => undefined);
    await this.conn.end().catch(() => undefined);
  }
}

async function readSchemas(conn: Connection, database: string, tables: readonly string[]): Promise<Map<string, TableSchema>> {
  const schemas = new Map<string, TableSchema>();
  if (tables.length === 0) return schemas;
  const marks = tables.map(() => '?').join(', ');
  const [columns] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS t, COLUMN_NAME AS c, DATA_TYPE AS dt, COLUMN_TYPE AS ct FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (${marks}) ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    [database, ...tables],
  );
  const [keys] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (${marks}) AND INDEX_NAME = 'PRIMARY' ORDER BY TABLE_NAME, SEQ_IN_INDEX`,
    [database, ...tables],
  );
  for (const row of columns) {
    const table = String(row['t']);
    let schema = schemas.get(table);
    if (schema === undefined) {
      schema = { database, table, columns: [], primaryKey: [] };
      schemas.set(table, schema);
    }
    schema.columns.push({ name: String(row['c']), kind: columnKind(String(row['dt']), String(row['ct'])) });
  }
  for (const row of keys) schemas.get(String(row['t']))?.primaryKey.push(String(row['c']));
  return schemas;
}

/** SHOW BINARY LOG STATUS (MySQL 8.2+), or SHOW MASTER STATUS before it. */
async function binaryLogStatus(conn: Connection): Promise<{ file: string; pos: number; gtid: string | null }> {
  let rows: RowDataPacket[];
  try {
    [rows] = await conn.query<RowDataPacket[]>('SHOW BINARY LOG STATUS');
  } catch {
    [rows] = await conn.query<RowDataPacket[]>('SHOW MASTER STATUS');
  }
  const row = rows[0];
  if (row === undefined) throw new RollgateError('INVALID_CONFIG', 'the server reports no binary log status: is log_bin on?');
  return { file: String(row['File']), pos: Number(row['Position']), gtid: nullIfEmpty(row['Executed_Gtid_Set']) };
}

function nullIfEmpty(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const s = String(value).replace(/\s/g, '');
  return s === '' ? null : s;
}

/** Server errors (ER_*) are bugs, grants or schema problems; anything else means the server did not answer. */
export function classify(err: unknown): RollgateError {
  if (err instanceof RollgateError) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('ER_')) return new RollgateError('INTERNAL', `mysql error ${code}`, { cause: err });
  return dependencyUnavailable('mysql', err);
}
