import {
  BIGINT,
  BOOLEAN,
  DATE,
  DOUBLE,
  DuckDBArrayValue,
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBInstance,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  INTEGER,
  StatementType,
  TIMESTAMP,
  VARCHAR,
  type DuckDBConnection,
  type DuckDBResult,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import { SqlFormatError, formatBigInt, parseQualifiedName } from '../../core/sql-literal.js';
import { RollgateError } from '../../errors.js';
import { duckDbOptions } from '../../store/duckdb-options.js';
import { approximateRowBytes, resultTooLarge } from './result-size.js';
import type { BoundSql, ParamType, TypedValue } from '../bound-sql.js';
import type { DataSourceConnector, QueryOptions, QueryResult, TableInfo } from './connector.js';

const METADATA_LIMITS: QueryOptions = { timeoutMs: 10_000, maxRows: 10_000 };
const MS_PER_DAY = 86_400_000;

/**
 * A DuckDB data source: its own database file, or the embedded store's
 * in-memory instance shared with it (then close() leaves the instance open).
 *
 * Each query gets a connection of its own, so concurrent queries never share
 * a transaction, and a timeout interrupts only its own query. DuckDB cannot
 * make a connection read-only inside a writable instance, so the parser
 * decides instead: exactly one statement, of type SELECT.
 */
export class DuckDbConnector implements DataSourceConnector {
  readonly dialect = 'duckdb' as const;
  readonly countsBeforeLimit = false;
  private readonly open = new Set<DuckDBConnection>();
  private readonly inFlight = new Set<Promise<QueryResult>>();
  private closed = false;

  private constructor(
    private readonly name: string,
    private readonly instance: DuckDBInstance,
    private readonly ownsInstance: boolean,
  ) {}

  /** Opens the database at `path` (`:memory:` for a private one). */
  static async open(name: string, path: string): Promise<DuckDbConnector> {
    try {
      // Scripts may not reach outside the database (read_csv, COPY, ATTACH, httpfs).
      return new DuckDbConnector(name, await DuckDBInstance.create(path, duckDbOptions()), true);
    } catch (err) {
      throw new RollgateError('DATASOURCE_ERROR', `data source "${name}": duckdb database cannot be opened`, { cause: err });
    }
  }

  /** Reads an instance someone else owns (the embedded rollup store's). */
  static shared(name: string, instance: DuckDBInstance): DuckDbConnector {
    return new DuckDbConnector(name, instance, false);
  }

  display(query: BoundSql): string {
    return query.render((_, value) => literal(value));
  }

  async query(query: BoundSql, options: QueryOptions): Promise<QueryResult> {
    const values: DuckDBValue[] = [];
    const types: DuckDBType[] = [];
    const text = query.render((i, value) => {
      const [v, t] = bindValue(value);
      values.push(v);
      types.push(t);
      return `$${i + 1}`;
    });
    return this.run(text, values, types, options);
  }

  async describeTable(table: string): Promise<TableInfo> {
    let parsed: { database: string | undefined; table: string };
    try {
      parsed = parseQualifiedName(table);
    } catch (err) {
      throw new RollgateError('INVALID_PARAMETER', 'table must be `name` or `schema.name` (letters, digits, _)', { cause: err, field: 'table' });
    }
    const schema = parsed.database === undefined ? 'current_schema()' : '$2';
    const result = await this.run(
      `SELECT column_name, data_type FROM information_schema.columns
       WHERE table_catalog = current_database() AND table_schema = ${schema} AND table_name = $1
       ORDER BY ordinal_position`,
      parsed.database === undefined ? [parsed.table] : [parsed.table, parsed.database],
      parsed.database === undefined ? [VARCHAR] : [VARCHAR, VARCHAR],
      METADATA_LIMITS,
    );
    if (result.rows.length === 0) throw new RollgateError('NOT_FOUND', `table ${table} not found`);
    return {
      name: table,
      columns: result.rows.map((r) => ({
        name: String(r['column_name']),
        nativeType: String(r['data_type']),
        paramType: duckdbParamType(String(r['data_type'])),
      })),
      readFinal: false,
    };
  }

  async test(): Promise<void> {
    try {
      await this.run('SELECT 1', [], [], METADATA_LIMITS);
    } catch (err) {
      const cause = err instanceof RollgateError ? (err.cause ?? err) : err;
      throw new RollgateError('DATASOURCE_ERROR', `data source "${this.name}" did not answer a test query`, { cause, retriable: true });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    // Running queries end (interrupted) and close their own connections before the instance goes.
    for (const connection of this.open) connection.interrupt();
    await Promise.allSettled(this.inFlight);
    if (this.ownsInstance) this.instance.closeSync();
  }

  private run(text: string, values: DuckDBValue[], types: DuckDBType[], options: QueryOptions): Promise<QueryResult> {
    if (this.closed) return Promise.reject(new RollgateError('DATASOURCE_ERROR', `data source "${this.name}" is closed`));
    const running = this.runOnConnection(text, values, types, options);
    this.inFlight.add(running);
    void running.catch(() => undefined).finally(() => this.inFlight.delete(running));
    return running;
  }

  private async runOnConnection(text: string, values: DuckDBValue[], types: DuckDBType[], options: QueryOptions): Promise<QueryResult> {
    const connection = await this.instance.connect();
    this.open.add(connection);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      connection.interrupt();
    }, options.timeoutMs);
    try {
      const extracted = await connection.extractStatements(text);
      if (extracted.count !== 1) throw this.refused('runs exactly one statement per query');
      const statement = await extracted.prepare(0);
      if (statement.statementType !== StatementType.SELECT) throw this.refused('runs only SELECT statements');
      if (values.length > 0) statement.bind(values, types);
      const result = await statement.stream();
      const rows = await readRows(result, Math.max(0, options.maxRows), options.maxBytes);
      if (timedOut) throw timeout(options);
      const columns = result.columnNames().map((name, i) => ({ name, nativeType: result.columnType(i).toString() }));
      return { columns, rows };
    } catch (err) {
      if (timedOut) throw timeout(options, err);
      if (err instanceof RollgateError) throw err;
      const message = err instanceof Error ? firstLine(err.message) : 'query failed';
      // The memory limit is the gateway's, not a passing fault: the same query would fail again.
      if (/^Out of Memory Error/i.test(message)) {
        throw new RollgateError('QUERY_TOO_COMPLEX', `data source "${this.name}": the query needs more memory than DuckDB may use here (DUCKDB_MEMORY_LIMIT)`, { cause: err });
      }
      throw new RollgateError('DATASOURCE_ERROR', `data source "${this.name}": ${message}`, { cause: err });
    } finally {
      clearTimeout(timer);
      this.open.delete(connection);
      // Also abandons a streaming result that was cut at maxRows.
      connection.closeSync();
    }
  }

  private refused(what: string): RollgateError {
    return new RollgateError('DATASOURCE_ERROR', `data source "${this.name}" ${what}`);
  }
}

function timeout(options: QueryOptions, cause?: unknown): RollgateError {
  return new RollgateError('QUERY_TIMEOUT', `query exceeded ${options.timeoutMs} ms`, cause === undefined ? {} : { cause });
}

/** DuckDB's messages name the problem on the first line; later lines quote the query. */
function firstLine(message: string): string {
  return (message.split('\n')[0] ?? '').slice(0, 300);
}

/**
 * Stops fetching once `maxRows` rows are in: the rest of a streaming result is never computed. Fails as soon as
 * the rows read pass `maxBytes`, before the rest is held in memory.
 */
async function readRows(result: DuckDBResult, maxRows: number, maxBytes: number | undefined): Promise<Array<Record<string, unknown>>> {
  const names = result.columnNames();
  const rows: Array<Record<string, unknown>> = [];
  let bytes = 0;
  while (rows.length < maxRows) {
    const chunk = await result.fetchChunk();
    if (chunk === null || chunk.rowCount === 0) break;
    for (const tuple of chunk.getRows()) {
      if (rows.length >= maxRows) break;
      const row: Record<string, unknown> = {};
      names.forEach((name, i) => {
        row[name] = toJs(tuple[i] ?? null);
      });
      if (maxBytes !== undefined && (bytes += approximateRowBytes(row)) > maxBytes) throw resultTooLarge(maxBytes);
      rows.push(row);
    }
  }
  return rows;
}

function bindValue(value: TypedValue): [DuckDBValue, DuckDBType] {
  switch (value.type) {
    case 'STRING':
      return [value.value, VARCHAR];
    case 'INT':
      return Number.isSafeInteger(value.value) && Math.abs(value.value) <= 2 ** 31 - 1 ? [value.value, INTEGER] : [value.value, DOUBLE];
    case 'LONG':
      return [value.value, BIGINT];
    case 'DOUBLE':
      return [value.value, DOUBLE];
    case 'BOOLEAN':
      return [value.value, BOOLEAN];
    case 'DATE':
      return [new DuckDBDateValue(daysSinceEpoch(value.value)), DATE];
    case 'DATETIME': {
      const ms = value.value.getTime();
      if (!Number.isFinite(ms)) throw new RollgateError('INVALID_PARAMETER', 'invalid date');
      return [new DuckDBTimestampValue(BigInt(ms) * 1000n), TIMESTAMP];
    }
    default: {
      const unknown: never = value;
      throw new RollgateError('INVALID_PARAMETER', `unknown value type ${String((unknown as { type?: unknown }).type)}`);
    }
  }
}

function daysSinceEpoch(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const [year, month, day] = m === null ? [NaN, NaN, NaN] : [Number(m[1]), Number(m[2]), Number(m[3])];
  // setUTCFullYear, not Date.UTC: the latter reads years 0-99 as 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    throw new RollgateError('INVALID_PARAMETER', 'date must be a calendar date YYYY-MM-DD');
  }
  return date.getTime() / MS_PER_DAY;
}

/** Standard SQL literals: '' doubles a quote, backslashes are plain characters. */
function literal(value: TypedValue): string {
  switch (value.type) {
    case 'STRING':
      return stringLiteral(value.value);
    case 'INT':
    case 'DOUBLE':
      return Number.isFinite(value.value) ? number(value.value) : `CAST('${String(value.value)}' AS DOUBLE)`;
    case 'LONG':
      return wrapped(() => formatBigInt(value.value));
    case 'BOOLEAN':
      return value.value ? 'TRUE' : 'FALSE';
    case 'DATE':
      daysSinceEpoch(value.value);
      return `DATE '${value.value}'`;
    case 'DATETIME': {
      if (!Number.isFinite(value.value.getTime())) throw new RollgateError('INVALID_PARAMETER', 'invalid date');
      return `TIMESTAMP '${value.value.toISOString().replace('T', ' ').replace('Z', '')}'`;
    }
    default: {
      const unknown: never = value;
      throw new RollgateError('INVALID_PARAMETER', `unknown value type ${String((unknown as { type?: unknown }).type)}`);
    }
  }
}

/** DuckDB's parser stops at a NUL in the SQL text, so NUL is spliced in with chr(0). */
function stringLiteral(value: string): string {
  const quoted = value.split('\0').map((piece) => `'${piece.replaceAll("'", "''")}'`);
  return quoted.length === 1 ? (quoted[0] as string) : `(${quoted.join(' || chr(0) || ')})`;
}

/** Negatives in parentheses, so `a -${x}` never becomes a `--` comment. */
function number(value: number): string {
  return value < 0 || Object.is(value, -0) ? `(${String(value)})` : String(value);
}

function wrapped(format: () => string): string {
  try {
    return format();
  } catch (err) {
    if (err instanceof SqlFormatError) throw new RollgateError('INVALID_PARAMETER', err.message, { cause: err });
    throw err;
  }
}

/**
 * DuckDB's value objects as plain JS: BIGINT a number when exact else a
 * string, DECIMAL a string (exact), timestamps and dates as Date (UTC).
 */
function toJs(value: DuckDBValue): unknown {
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') return value;
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (value instanceof DuckDBTimestampValue || value instanceof DuckDBTimestampTZValue) return instant(value.micros / 1000n, value);
  if (value instanceof DuckDBTimestampMillisecondsValue) return instant(value.millis, value);
  if (value instanceof DuckDBTimestampSecondsValue) return instant(value.seconds * 1000n, value);
  if (value instanceof DuckDBTimestampNanosecondsValue) return instant(value.nanos / 1_000_000n, value);
  if (value instanceof DuckDBDateValue) return instant(BigInt(value.days) * BigInt(MS_PER_DAY), value);
  if (value instanceof DuckDBBlobValue) return Buffer.from(value.bytes);
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue) return value.items.map(toJs);
  if (value instanceof DuckDBStructValue) return Object.fromEntries(Object.entries(value.entries).map(([k, v]) => [k, toJs(v)]));
  if (value instanceof DuckDBMapValue) return value.entries.map((e) => ({ key: toJs(e.key), value: toJs(e.value) }));
  // DECIMAL, UUID, INTERVAL, TIME, …: their SQL text.
  return value.toString();
}

/** A Date when the instant fits one (±8.64e15 ms); infinities and the like stay text. */
function instant(ms: bigint, value: { toString(): string }): Date | string {
  const n = Number(ms);
  return Math.abs(n) <= 8.64e15 ? new Date(n) : value.toString();
}

export function duckdbParamType(nativeType: string): ParamType | undefined {
  const type = nativeType.toUpperCase();
  if (type === 'BOOLEAN') return 'BOOLEAN';
  if (['TINYINT', 'SMALLINT', 'INTEGER', 'UTINYINT', 'USMALLINT'].includes(type)) return 'INT';
  if (['UINTEGER', 'BIGINT', 'UBIGINT'].includes(type)) return 'LONG';
  if (['FLOAT', 'DOUBLE', 'REAL'].includes(type) || type.startsWith('DECIMAL')) return 'DOUBLE';
  if (type === 'VARCHAR' || type === 'UUID' || type.startsWith('ENUM')) return 'STRING';
  if (type === 'DATE') return 'DATE';
  if (type.startsWith('TIMESTAMP')) return 'DATETIME';
  return undefined;
}
