import mysql, { type FieldPacket, type Pool, type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import { SqlFormatError, parseQualifiedName } from '../../core/sql-literal.js';
import { RollgateError } from '../../errors.js';
import type { BoundSql, ParamType, TypedValue } from '../bound-sql.js';
import type { DataSourceConfig, DataSourceConnector, QueryOptions, QueryResult, ResultColumn, TableInfo } from './connector.js';
import { approximateRowBytes, resultTooLarge } from './result-size.js';

export type MySqlSourceConfig = Extract<DataSourceConfig, { kind: 'mysql' }>;

type Flavor = 'mariadb' | 'mysql';
type BindValue = string | number | boolean | Date;

const METADATA_LIMITS: QueryOptions = { timeoutMs: 10_000, maxRows: 10_000 };

/** The server-side limit trails the client's, so the client's timer decides and reports first. */
const SERVER_LIMIT_MARGIN_MS = 500;

// Server errors meaning "stopped for time": MariaDB max_statement_time, MySQL max_execution_time.
// (Our own KILL QUERY interrupts with 1317; the client's timer has already decided that case.)
const ER_STATEMENT_TIMEOUT = 1969;
const ER_QUERY_TIMEOUT = 3024;

// Too many connections, server shutting down: worth another try later.
const SERVER_BUSY = new Set([1040, 1053]);

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** mysql2 type ids (protocol column types) to SQL type names, for result metadata. */
const TYPE_NAMES: Record<number, string> = {
  0: 'decimal', 1: 'tinyint', 2: 'smallint', 3: 'int', 4: 'float', 5: 'double', 6: 'null', 7: 'timestamp',
  8: 'bigint', 9: 'mediumint', 10: 'date', 11: 'time', 12: 'datetime', 13: 'year', 14: 'date', 15: 'varchar',
  16: 'bit', 245: 'json', 246: 'decimal', 247: 'enum', 248: 'set', 249: 'tinyblob', 250: 'mediumblob',
  251: 'longblob', 252: 'blob', 253: 'varchar', 254: 'char', 255: 'geometry',
};
const DATE_TYPES = new Set([10, 14]);
const UNSIGNED_FLAG = 32;
const BINARY_CHARSET = 63;

/**
 * A MySQL or MariaDB data source.
 *
 * Values are bound by the server (prepared statements), so neither the
 * session's sql_mode (NO_BACKSLASH_ESCAPES) nor its character set can turn a
 * value into SQL. Each query runs on one pooled connection as:
 *
 *   SET SESSION <statement time limit>, time_zone = '+00:00', sql_select_limit = maxRows
 *   START TRANSACTION READ ONLY
 *   PREPARE → refused unless it returns a result set
 *   EXECUTE
 *   COMMIT
 *
 * A connection that failed or timed out is closed, never pooled again (closing
 * the session rolls its transaction back). On the client's deadline the
 * statement is first stopped with KILL QUERY from a separate connection; the
 * server's own limit (max_statement_time on MariaDB, max_execution_time on
 * MySQL, detected once via VERSION()) trails it by 500 ms as a backstop.
 *
 * A READ ONLY transaction refuses DML and locking reads, but DDL commits it
 * implicitly and runs anyway (verified on MariaDB 10.11: DROP TABLE succeeds).
 * Hence the prepare check: the server's own parser says whether the statement
 * returns rows; DDL, DML, SET, CALL and `SELECT … INTO OUTFILE` report none.
 */
export class MySqlConnector implements DataSourceConnector {
  readonly dialect = 'mysql' as const;
  readonly countsBeforeLimit = false;
  private readonly pool: Pool;
  private flavor: Promise<Flavor> | undefined;

  constructor(
    private readonly name: string,
    private readonly config: MySqlSourceConfig,
  ) {
    this.pool = mysql.createPool({
      host: config.host,
      port: config.port,
      user: config.user,
      password: config.password,
      database: config.database,
      connectionLimit: 8,
      connectTimeout: 5000,
      enableKeepAlive: true,
      // DATETIME and TIMESTAMP are read and bound as UTC (the session's time_zone is set to match).
      timezone: 'Z',
      // DATE as text, turned into UTC midnight here: mysql2 would build it in local time.
      dateStrings: ['DATE'],
      // BIGINT as a number when exact, else a string; DECIMAL always a string (money stays exact).
      supportBigNumbers: true,
      bigNumberStrings: false,
      decimalNumbers: false,
      // Statements are cached per connection; the server caps them for everyone (max_prepared_stmt_count).
      maxPreparedStatements: 64,
      multipleStatements: false,
    });
  }

  /** Each value escaped by mysql2 in its own place (mysql.format would also replace a `?` inside the text's literals). */
  display(query: BoundSql): string {
    // A replacer function, so `$&` and the like in a value are not read as replacement patterns.
    return query.render((_, value) => placeholder(value).replace('?', () => mysql.escape(displayValue(value), false, 'Z')));
  }

  async query(query: BoundSql, options: QueryOptions): Promise<QueryResult> {
    const values: BindValue[] = [];
    const text = query.render((_, value) => {
      values.push(bindValue(value));
      return placeholder(value);
    });
    const { rows, fields } = await this.run(text, values, options);
    const out = rows.slice(0, Math.max(0, options.maxRows)).map((row) => fromRow(row, fields));
    // mysql2 hands over a whole result at once: this bounds the answer, not the read.
    if (options.maxBytes !== undefined && out.reduce((n, row) => n + approximateRowBytes(row), 0) > options.maxBytes) throw resultTooLarge(options.maxBytes);
    return { columns: fields.map(resultColumn), rows: out };
  }

  async describeTable(table: string): Promise<TableInfo> {
    const { database = this.config.database, table: name } = tableName(table);
    const { rows } = await this.run(
      `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS column_type, DATA_TYPE AS data_type
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [database, name],
      METADATA_LIMITS,
    );
    // Every table has a column, so no rows means no table (or none this user may see).
    if (rows.length === 0) throw new RollgateError('NOT_FOUND', `table ${table} not found`);
    return {
      name: table,
      columns: rows.map((r) => ({
        name: String(r['name']),
        nativeType: String(r['column_type']),
        paramType: mysqlParamType(String(r['data_type']), String(r['column_type'])),
      })),
      readFinal: false,
    };
  }

  async test(): Promise<void> {
    try {
      await this.run('SELECT 1', [], METADATA_LIMITS);
    } catch (err) {
      const cause = err instanceof RollgateError ? (err.cause ?? err) : err;
      throw new RollgateError('DATASOURCE_ERROR', `data source "${this.name}" did not answer a test query`, { cause, retriable: true });
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async run(text: string, values: BindValue[], options: QueryOptions): Promise<{ rows: RowDataPacket[]; fields: FieldPacket[] }> {
    const state: QueryState = { timedOut: false, connection: undefined, discarded: false };
    const work = this.runOnConnection(text, values, options, state);
    // The loser of the race below still settles; runOnConnection cleans up after itself either way.
    work.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        state.timedOut = true;
        void this.stop(state).then(() => reject(timeout(options)));
      }, options.timeoutMs);
    });
    try {
      const result = await Promise.race([work, deadline]);
      // A killed SLEEP() returns normally: what finished past the deadline still timed out.
      if (state.timedOut) throw timeout(options);
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  private async runOnConnection(
    text: string,
    values: BindValue[],
    options: QueryOptions,
    state: QueryState,
  ): Promise<{ rows: RowDataPacket[]; fields: FieldPacket[] }> {
    const flavor = await this.serverFlavor();
    let connection: PoolConnection;
    try {
      connection = await this.pool.getConnection();
    } catch (err) {
      throw this.failure(err);
    }
    if (state.timedOut) {
      connection.release();
      throw timeout(options);
    }
    state.connection = connection;
    try {
      await connection.query(sessionLimits(flavor, options));
      await connection.query('START TRANSACTION READ ONLY');
      const statement = await connection.prepare(text);
      if (resultColumnCount(statement) === 0) {
        throw new RollgateError('DATASOURCE_ERROR', `data source "${this.name}" runs only statements that return rows`);
      }
      const [rows, fields] = await statement.execute(values);
      if (state.timedOut) throw timeout(options);
      await connection.query('COMMIT');
      if (!Array.isArray(rows)) throw new RollgateError('DATASOURCE_ERROR', `data source "${this.name}" runs only statements that return rows`);
      connection.release();
      return { rows: rows as RowDataPacket[], fields };
    } catch (err) {
      // Never handed to the next query: it may be mid-transaction, or mid-statement after a kill.
      // Closing the session rolls its transaction back.
      discard(state);
      if (state.timedOut || isServerTimeout(err)) throw timeout(options, err);
      throw this.failure(err);
    }
  }

  /** On the client's deadline: stop the statement on the server, then drop its connection. */
  private async stop(state: QueryState): Promise<void> {
    if (state.connection !== undefined && !state.discarded) await this.killQuery(state.connection.threadId);
    discard(state);
  }

  /** KILL QUERY from a connection of its own: the pool may be full of the very queries to stop. */
  private async killQuery(threadId: number): Promise<void> {
    if (!Number.isSafeInteger(threadId)) return;
    try {
      const killer = await mysql.createConnection({
        host: this.config.host,
        port: this.config.port,
        user: this.config.user,
        password: this.config.password,
        connectTimeout: 2000,
      });
      try {
        await killer.query(`KILL QUERY ${threadId}`);
      } finally {
        killer.destroy();
      }
    } catch {
      // Best effort: the server's own statement time limit stops it shortly after.
    }
  }

  /** MariaDB and MySQL name their statement time limits differently; asked once, on first use. */
  private serverFlavor(): Promise<Flavor> {
    if (this.flavor === undefined) {
      const asking = (async (): Promise<Flavor> => {
        try {
          const [rows] = await this.pool.query<RowDataPacket[]>('SELECT VERSION() AS version');
          return /mariadb/i.test(String(rows[0]?.['version'] ?? '')) ? 'mariadb' : 'mysql';
        } catch (err) {
          throw this.failure(err);
        }
      })();
      asking.catch(() => {
        this.flavor = undefined;
      });
      this.flavor = asking;
    }
    return this.flavor;
  }

  private failure(err: unknown): RollgateError {
    if (err instanceof RollgateError) return err;
    const { code, errno } = err as { code?: unknown; errno?: unknown };
    // Server error numbers start at 1000; network failures carry negative errnos (ECONNREFUSED, …).
    const serverAnswered = (typeof code === 'string' && code.startsWith('ER_')) || (typeof errno === 'number' && errno >= 1000);
    if (serverAnswered && !(typeof errno === 'number' && SERVER_BUSY.has(errno))) {
      const label = typeof code === 'string' ? code : `errno ${String(errno)}`;
      return new RollgateError('DATASOURCE_ERROR', `data source "${this.name}": mysql error ${label}`, { cause: err });
    }
    return new RollgateError('DATASOURCE_ERROR', `data source "${this.name}" is unreachable`, { cause: err, retriable: true });
  }
}

interface QueryState {
  timedOut: boolean;
  connection: PoolConnection | undefined;
  discarded: boolean;
}

function discard(state: QueryState): void {
  if (state.connection === undefined || state.discarded) return;
  state.discarded = true;
  state.connection.destroy();
}

function timeout(options: QueryOptions, cause?: unknown): RollgateError {
  return new RollgateError('QUERY_TIMEOUT', `query exceeded ${options.timeoutMs} ms`, cause === undefined ? {} : { cause });
}

function tableName(table: string): { database: string | undefined; table: string } {
  try {
    return parseQualifiedName(table);
  } catch (err) {
    if (err instanceof SqlFormatError) {
      throw new RollgateError('INVALID_PARAMETER', 'table must be `name` or `database.name` (letters, digits, _)', { cause: err, field: 'table' });
    }
    throw err;
  }
}

function sessionLimits(flavor: Flavor, options: QueryOptions): string {
  const limitMs = Math.max(1, Math.ceil(options.timeoutMs)) + SERVER_LIMIT_MARGIN_MS;
  const timeLimit = flavor === 'mariadb'
    ? `max_statement_time = ${(limitMs / 1000).toFixed(3)}`
    : `max_execution_time = ${limitMs}`;
  // sql_select_limit caps a top-level SELECT without its own LIMIT; rows past maxRows are cut here too.
  const rowLimit = Math.max(1, Math.floor(options.maxRows));
  return `SET SESSION ${timeLimit}, time_zone = '+00:00', sql_select_limit = ${rowLimit}`;
}

/**
 * LONG goes as decimal text cast to a 64-bit integer: a bare string would be
 * compared with an integer column as a double, which cannot tell 2^53 from 2^53+1.
 */
function placeholder(value: TypedValue): string {
  if (value.type !== 'LONG') return '?';
  if (value.value >= INT64_MIN && value.value <= INT64_MAX) return 'CAST(? AS SIGNED)';
  if (value.value >= 0n && value.value <= UINT64_MAX) return 'CAST(? AS UNSIGNED)';
  throw new RollgateError('INVALID_PARAMETER', 'integer outside the 64-bit range');
}

function bindValue(value: TypedValue): BindValue {
  switch (value.type) {
    case 'STRING':
      return value.value;
    // MySQL would compare with an impossible date (2024-02-30) as NULL and quietly match nothing.
    case 'DATE':
      if (!isCalendarDate(value.value)) throw new RollgateError('INVALID_PARAMETER', 'date must be a calendar date YYYY-MM-DD');
      return value.value;
    // As text: MySQL 8.0.22+ refuses a DOUBLE parameter in LIMIT, and mysql2 binds every JS number as DOUBLE.
    case 'INT':
      return String(value.value);
    case 'LONG':
      return value.value.toString();
    case 'DOUBLE':
      return value.value;
    case 'BOOLEAN':
      return value.value;
    case 'DATETIME':
      return value.value;
    default: {
      const unknown: never = value;
      throw new RollgateError('INVALID_PARAMETER', `unknown value type ${String((unknown as { type?: unknown }).type)}`);
    }
  }
}

function isCalendarDate(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (m === null) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** What display() inlines: numbers as numbers (LIMIT 20, not LIMIT '20'), the rest as mysql2 escapes them. */
function displayValue(value: TypedValue): string | number | boolean | Date {
  if (value.type === 'DATE' && !isCalendarDate(value.value)) throw new RollgateError('INVALID_PARAMETER', 'date must be a calendar date YYYY-MM-DD');
  return value.type === 'LONG' ? value.value.toString() : value.value;
}

/**
 * The number of result columns the server reported when preparing: 0 for any
 * statement that does not return rows. mysql2 keeps it on the statement but
 * does not type it, so the shape is checked (and an unexpected one refused).
 */
function resultColumnCount(statement: unknown): number {
  const columns = (statement as { statement?: { columns?: unknown } }).statement?.columns;
  return Array.isArray(columns) ? columns.length : 0;
}

function isServerTimeout(err: unknown): boolean {
  const errno = (err as { errno?: unknown }).errno;
  return errno === ER_STATEMENT_TIMEOUT || errno === ER_QUERY_TIMEOUT;
}

function resultColumn(field: FieldPacket): ResultColumn {
  return { name: field.name, nativeType: nativeTypeName(field) };
}

function nativeTypeName(field: FieldPacket): string {
  const id = field.columnType ?? field.type ?? -1;
  let name = TYPE_NAMES[id] ?? `type ${id}`;
  const charset = field.characterSet ?? field.charsetNr;
  if (name.endsWith('blob') && charset !== undefined && charset !== BINARY_CHARSET) name = name.replace('blob', 'text');
  const flags = typeof field.flags === 'number' ? field.flags : 0;
  return (flags & UNSIGNED_FLAG) !== 0 ? `${name} unsigned` : name;
}

function fromRow(row: RowDataPacket, fields: FieldPacket[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const value: unknown = row[field.name];
    const id = field.columnType ?? field.type ?? -1;
    if (DATE_TYPES.has(id) && typeof value === 'string') out[field.name] = parseDate(value);
    // Zero dates ('0000-00-00 00:00:00') come back as Invalid Date: no instant, so null.
    else if (value instanceof Date && Number.isNaN(value.getTime())) out[field.name] = null;
    else out[field.name] = value ?? null;
  }
  return out;
}

function parseDate(text: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (m === null || text === '0000-00-00') return null;
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
}

export function mysqlParamType(dataType: string, columnType: string): ParamType | undefined {
  const type = dataType.toLowerCase();
  const full = columnType.toLowerCase();
  if (type === 'bool' || type === 'boolean' || (type === 'tinyint' && full.startsWith('tinyint(1)'))) return 'BOOLEAN';
  if (['tinyint', 'smallint', 'mediumint', 'year'].includes(type)) return 'INT';
  if (type === 'int' || type === 'integer') return full.includes('unsigned') ? 'LONG' : 'INT';
  if (type === 'bigint') return 'LONG';
  if (['decimal', 'numeric', 'float', 'double', 'real'].includes(type)) return 'DOUBLE';
  if (['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set'].includes(type)) return 'STRING';
  if (type === 'date') return 'DATE';
  if (type === 'datetime' || type === 'timestamp') return 'DATETIME';
  return undefined;
}
