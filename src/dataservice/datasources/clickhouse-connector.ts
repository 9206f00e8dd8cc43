import { randomUUID } from 'node:crypto';
import { Pool } from 'undici';
import { SqlFormatError, formatString, formatTypedValue, parseQualifiedName } from '../../core/sql-literal.js';
import { RollgateError, type ErrorCode } from '../../errors.js';
import { resultTooLarge } from './result-size.js';
import type { BoundSql, ParamType } from '../bound-sql.js';
import type { DataSourceConfig, DataSourceConnector, QueryOptions, QueryResult, TableColumn, TableInfo } from './connector.js';

export type ClickHouseSourceConfig = Extract<DataSourceConfig, { kind: 'clickhouse' }>;

/** For the connector's own metadata queries (describeTable, test). */
const METADATA_LIMITS: QueryOptions = { timeoutMs: 10_000, maxRows: 10_000 };

// Server error codes (ErrorCodes.cpp) that mean "ran out of time".
const TIMEOUT_EXCEEDED = '159';
const QUERY_WAS_CANCELLED = '394';

/** Engines that keep several versions of a row until a merge: reads need FINAL. */
const MERGING_ENGINE = /^(Replicated)?(Replacing|Collapsing|VersionedCollapsing|Summing|Aggregating)MergeTree$/;

interface JsonCompactBody {
  meta: Array<{ name: string; type: string }>;
  data: unknown[][];
  rows_before_limit_at_least?: number | string;
}

/**
 * A ClickHouse data source over HTTP, for 18.16 and current releases.
 *
 * Values are written into the text by the audited literal formatter (18.16 has
 * no server-side parameters), so `display()` is exactly what is sent.
 *
 * Every query carries readonly=1: no writes, no DDL, no SET, no table
 * functions (`url()`, `file()`, `remote()` could reach beyond the database).
 * Settings in the same request still apply, because the server checks them
 * against the user's profile before applying readonly (verified on 18.16).
 *
 * max_result_rows uses result_overflow_mode='break', so a result longer than
 * the caller's "one more than served" probe is cut rather than failed. The cut
 * is per block (18.16 returned all 100,000 rows of a GROUP BY for a limit of
 * 21, and stopped an endless `system.numbers` after one block), so rows past
 * maxRows are dropped here as well. On 18.16 the limit does not reach FROM/IN/
 * JOIN subqueries (verified); ClickHouse documents that it is also checked on
 * remote shards of a Distributed query, where 'break' could cut partial
 * results — callers always add their own LIMIT, which makes the setting a
 * backstop for unbounded scripts only.
 *
 * Timeouts: max_execution_time on the server, and the client's own timer,
 * which aborts the request and sends KILL QUERY — 18.16 keeps running a query
 * whose HTTP client went away.
 *
 * HTTP goes through an undici connection pool (keep-alive), not
 * @clickhouse/client: that client's per-query machinery (URL objects,
 * tracing spans, stream pipelines) cost ~1.3 ms of CPU per query against
 * ~0.6 ms for the same query over undici, measured on this stack — a third of
 * an uncached REST call's CPU. The HTTP interface used here is small: the SQL
 * as the POST body, settings and query_id as URL parameters, and errors as a
 * non-200 status with the server's text.
 */
export class ClickHouseConnector implements DataSourceConnector {
  readonly dialect = 'clickhouse' as const;
  readonly countsBeforeLimit = true;
  private readonly pool: Pool;
  /** The URL's path (a proxy may serve ClickHouse below one); the origin is the pool's. */
  private readonly pathname: string;
  private readonly headers: Record<string, string>;
  private timezone: Promise<string> | undefined;
  private exactTotals: Promise<boolean> | undefined;

  constructor(
    private readonly name: string,
    private readonly config: ClickHouseSourceConfig,
  ) {
    const url = new URL(config.url);
    this.pathname = url.pathname;
    this.pool = new Pool(url.origin, {
      // As @clickhouse/client did: at most 10 queries at once per data source, the rest wait for a connection,
      // so a burst of calls cannot run into the server's max_concurrent_queries.
      connections: 10,
      // Idle connections are dropped before the server's keep_alive_timeout (3 s by default) closes them
      // under a query just being sent.
      keepAliveTimeout: 2_500,
      keepAliveMaxTimeout: 2_500,
      // Each query is cut by its own AbortSignal at its timeoutMs; these only bound a request nobody aborted.
      headersTimeout: 300_000,
      bodyTimeout: 300_000,
    });
    this.headers = {
      authorization: `Basic ${Buffer.from(`${config.user}:${config.password}`).toString('base64')}`,
      'content-type': 'text/plain; charset=utf-8',
    };
  }

  display(query: BoundSql): string {
    return render(query);
  }

  async query(query: BoundSql, options: QueryOptions): Promise<QueryResult> {
    const body = await this.run(render(query), options);
    const timezones = await this.columnTimezones(body.meta);
    // Each column's reader is picked once, not per cell.
    const readers = body.meta.map((column, i) => ({ name: column.name, read: jsonReader(column.type, timezones[i]) }));
    const rows: Array<Record<string, unknown>> = [];
    for (const tuple of body.data.slice(0, Math.max(0, options.maxRows))) {
      const row: Record<string, unknown> = {};
      readers.forEach(({ name, read }, i) => {
        row[name] = read(tuple[i]);
      });
      rows.push(row);
    }
    // Only a server that counts every row before LIMIT gives a total to trust; otherwise the caller counts apart.
    const total = (await this.exactRowsBeforeLimit()) ? body.rows_before_limit_at_least : undefined;
    return {
      columns: body.meta.map((c) => ({ name: c.name, nativeType: c.type })),
      rows,
      ...(total === undefined ? {} : { totalBeforeLimit: Number(total) }),
    };
  }

  async describeTable(table: string): Promise<TableInfo> {
    const { database = this.config.database, table: name } = tableName(table);
    const where = `database = ${formatString(database)} AND table = ${formatString(name)}`;
    const tables = await this.run(
      `SELECT engine FROM system.tables WHERE database = ${formatString(database)} AND name = ${formatString(name)}`,
      METADATA_LIMITS,
    );
    const engine = tables.data[0]?.[0];
    if (typeof engine !== 'string') throw new RollgateError('NOT_FOUND', `table ${table} not found`);
    // system.columns lists a table's columns in their declared order (18.16 has no `position` to sort by).
    const columns = await this.run(`SELECT name, type FROM system.columns WHERE ${where}`, METADATA_LIMITS);
    return {
      name: table,
      columns: columns.data.map(([columnName, type]): TableColumn => ({
        name: String(columnName),
        nativeType: String(type),
        paramType: clickhouseParamType(String(type)),
      })),
      readFinal: MERGING_ENGINE.test(engine),
    };
  }

  async test(): Promise<void> {
    try {
      await this.run('SELECT 1', METADATA_LIMITS);
    } catch (err) {
      const cause = err instanceof RollgateError ? (err.cause ?? err) : err;
      throw new RollgateError('DATASOURCE_ERROR', `data source "${this.name}" did not answer a test query`, { cause, retriable: true });
    }
  }

  /**
   * The server's time zone: DateTime columns without their own zone are
   * written in it. Asked once, on the first DateTime result.
   */
  serverTimezone(): Promise<string> {
    if (this.timezone === undefined) {
      const asking = this.run('SELECT timezone()', METADATA_LIMITS).then((body) => String(body.data[0]?.[0] ?? 'UTC'));
      asking.catch(() => {
        this.timezone = undefined;
      });
      this.timezone = asking;
    }
    return this.timezone;
  }

  /**
   * `rows_before_limit_at_least` is what its name says. 18.x reads every row a LIMIT query matches, so the value
   * is the exact count; from 19.x on, reading in key order and the processor pipeline stop early, and current
   * servers reported 2,080 of 100,000 rows. There a page gets a separate count() query instead. Asked once.
   */
  private exactRowsBeforeLimit(): Promise<boolean> {
    if (this.exactTotals === undefined) {
      const asking = this.run('SELECT version()', METADATA_LIMITS).then((body) => exactRowsBeforeLimitOn(String(body.data[0]?.[0] ?? '')));
      asking.catch(() => {
        this.exactTotals = undefined;
      });
      this.exactTotals = asking;
    }
    return this.exactTotals;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /**
   * POSTs one statement; resolves with the body of a 200, throws ClickHouseServerError with the server's
   * text otherwise. Settings go in the URL: 18.16 rejects settings it does not know, so only these are sent.
   */
  private async post(sql: string, params: Record<string, string>, signal?: AbortSignal, maxBytes?: number): Promise<string> {
    const search = new URLSearchParams({ ...params, database: this.config.database });
    const response = await this.pool.request({ method: 'POST', path: `${this.pathname}?${search}`, headers: this.headers, body: sql, signal });
    const text = await readBody(response.body, response.statusCode === 200 ? maxBytes : undefined);
    if (response.statusCode !== 200) {
      const header = response.headers['x-clickhouse-exception-code'];
      throw new ClickHouseServerError(text.trim(), typeof header === 'string' ? header : undefined);
    }
    return text;
  }

  private async run(text: string, options: QueryOptions): Promise<JsonCompactBody> {
    const queryId = randomUUID();
    const abort = new AbortController();
    let timedOut = false;
    let killing: Promise<void> | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
      // 18.16 keeps running a query whose HTTP client went away: stop it explicitly.
      killing = this.kill(queryId);
    }, options.timeoutMs);
    try {
      // JSONCompact is about the size of the answer's JSON: the cap is checked on the bytes as they arrive.
      const body = await this.post(`${stripTrailingSemicolons(text)}\nFORMAT JSONCompact`, { query_id: queryId, ...readOnlySettings(options) }, abort.signal, options.maxBytes);
      return parseBody(parseJson(body));
    } catch (err) {
      if (timedOut || isServerTimeout(err)) {
        await killing;
        throw new RollgateError('QUERY_TIMEOUT', `query exceeded ${options.timeoutMs} ms`, { cause: err });
      }
      throw this.failure(err);
    } finally {
      clearTimeout(timer);
    }
  }

  private async kill(queryId: string): Promise<void> {
    try {
      // Without readonly: KILL is refused in readonly mode. The id is ours, a UUID.
      await this.post(`KILL QUERY WHERE query_id = ${formatString(queryId)} ASYNC`, {});
    } catch {
      // Best effort: max_execution_time stops it on the server anyway.
    }
  }

  private failure(err: unknown): RollgateError {
    if (err instanceof RollgateError) return err;
    const code = serverErrorCode(err);
    if (code !== undefined) return classifyServerError(this.name, code, err);
    return new RollgateError('DATASOURCE_ERROR', `data source "${this.name}" is unreachable`, { cause: err, retriable: true });
  }

  /** Per column, the zone its DateTime text is written in (undefined for other types). */
  private async columnTimezones(meta: JsonCompactBody['meta']): Promise<Array<string | undefined>> {
    const out: Array<string | undefined> = [];
    for (const { type } of meta) {
      const inner = unwrap(type);
      const zoned = /^DateTime\('([^']+)'\)$/.exec(inner);
      if (zoned !== null) out.push(zoned[1]);
      else out.push(inner === 'DateTime' ? await this.serverTimezone() : undefined);
    }
    return out;
  }
}

/** Servers whose rows_before_limit_at_least is an exact count (see exactRowsBeforeLimit): 18.x. */
export function exactRowsBeforeLimitOn(version: string): boolean {
  const major = Number(/^(\d+)\./.exec(version)?.[1]);
  return Number.isInteger(major) && major <= 18;
}

function render(query: BoundSql): string {
  try {
    return query.render((_, value) => formatTypedValue(value));
  } catch (err) {
    if (err instanceof SqlFormatError) throw new RollgateError('INVALID_PARAMETER', `value cannot be sent to ClickHouse: ${err.message}`, { cause: err });
    throw err;
  }
}

function tableName(table: string): { database: string | undefined; table: string } {
  try {
    return parseQualifiedName(table);
  } catch (err) {
    throw new RollgateError('INVALID_PARAMETER', 'table must be `name` or `database.name` (letters, digits, _)', { cause: err, field: 'table' });
  }
}

function readOnlySettings(options: QueryOptions): Record<string, string> {
  return {
    readonly: '1',
    max_execution_time: String(Math.max(1, Math.ceil(options.timeoutMs / 1000))),
    max_result_rows: String(Math.max(1, options.maxRows)),
    result_overflow_mode: 'break',
    // 18.16 quotes UInt64/Int64 in JSON by default; since 25.8 servers do not, and JSON numbers above 2^53 lose
    // precision. 18.16 knows the setting, so it is safe to send everywhere.
    output_format_json_quote_64bit_integers: '1',
    // Buffer the answer on the server so an error after the first block arrives as
    // an HTTP error, not as text appended to a half-written JSON body.
    wait_end_of_query: '1',
  };
}

/** The server's answer to a statement it refused: its text, which starts with `Code: N`. */
class ClickHouseServerError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'ClickHouseServerError';
  }
}

/** The body as text; past maxBytes the rest is not read and PAYLOAD_TOO_LARGE is thrown. */
async function readBody(body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown; text(): Promise<string> }, maxBytes: number | undefined): Promise<string> {
  if (maxBytes === undefined) return body.text();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) {
      body.destroy();
      throw resultTooLarge(maxBytes);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** FORMAT is appended after the statement, where a trailing `;` would end it first. */
function stripTrailingSemicolons(sql: string): string {
  return sql.trim().replace(/;+$/, '');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new RollgateError('DATASOURCE_ERROR', 'clickhouse answered with a body that is not JSON', { cause: err });
  }
}

function isServerTimeout(err: unknown): boolean {
  const code = serverErrorCode(err);
  return code === TIMEOUT_EXCEEDED || code === QUERY_WAS_CANCELLED;
}

/**
 * The server's error code when ClickHouse answered with an error: current
 * releases send it in X-ClickHouse-Exception-Code and write `Code: 47.
 * DB::Exception: …`; 18.16 writes `Code: 47, e.displayText() = …`.
 */
function serverErrorCode(err: unknown): string | undefined {
  if (!(err instanceof ClickHouseServerError)) return undefined;
  return err.code ?? /^Code: (\d+)[,.]/.exec(err.message)?.[1];
}

/**
 * What a ClickHouse error code means for the caller, the same on 18.16 and current servers (the code is the
 * server's own, from X-ClickHouse-Exception-Code or the body). The message names the kind, never the server's
 * text, which can hold table names and SQL.
 */
const SERVER_ERRORS: Record<string, { code: ErrorCode; retriable: boolean; what: string }> = {
  '164': { code: 'DATASOURCE_ERROR', retriable: false, what: 'refused it: queries run read-only (READONLY)' },
  '497': { code: 'DATASOURCE_ERROR', retriable: false, what: "refused it: its user lacks the rights (ACCESS_DENIED)" },
  '192': { code: 'DATASOURCE_ERROR', retriable: false, what: 'refused its credentials (UNKNOWN_USER)' },
  '193': { code: 'DATASOURCE_ERROR', retriable: false, what: 'refused its credentials (WRONG_PASSWORD)' },
  '516': { code: 'DATASOURCE_ERROR', retriable: false, what: 'refused its credentials (AUTHENTICATION_FAILED)' },
  '241': { code: 'QUERY_TOO_COMPLEX', retriable: false, what: 'stopped it: it needs more memory than the server allows (MEMORY_LIMIT_EXCEEDED)' },
  '396': { code: 'QUERY_TOO_COMPLEX', retriable: false, what: 'stopped it: the result is too large (TOO_MANY_ROWS_OR_BYTES)' },
  '60': { code: 'DATASOURCE_ERROR', retriable: false, what: 'has no such table now (UNKNOWN_TABLE)' },
  '81': { code: 'DATASOURCE_ERROR', retriable: false, what: 'has no such database (UNKNOWN_DATABASE)' },
  '47': { code: 'DATASOURCE_ERROR', retriable: false, what: 'has no such column now (UNKNOWN_IDENTIFIER)' },
  '62': { code: 'DATASOURCE_ERROR', retriable: false, what: 'cannot parse the SQL (SYNTAX_ERROR)' },
  '202': { code: 'DATASOURCE_ERROR', retriable: true, what: 'is busy (TOO_MANY_SIMULTANEOUS_QUERIES)' },
  '209': { code: 'DATASOURCE_ERROR', retriable: true, what: 'timed out on its network (SOCKET_TIMEOUT)' },
  '210': { code: 'DATASOURCE_ERROR', retriable: true, what: 'lost a connection (NETWORK_ERROR)' },
  '279': { code: 'DATASOURCE_ERROR', retriable: true, what: 'could not reach a replica (ALL_CONNECTION_TRIES_FAILED)' },
};

export function classifyServerError(source: string, serverCode: string, cause?: unknown): RollgateError {
  const known = SERVER_ERRORS[serverCode];
  if (known === undefined) return new RollgateError('DATASOURCE_ERROR', `data source "${source}": clickhouse error ${serverCode}`, { cause });
  return new RollgateError(known.code, `data source "${source}" ${known.what}`, { cause, retriable: known.retriable });
}

function parseBody(body: unknown): JsonCompactBody {
  const candidate = body as Partial<JsonCompactBody> | null;
  if (candidate === null || typeof candidate !== 'object' || !Array.isArray(candidate.meta) || !Array.isArray(candidate.data)) {
    throw new RollgateError('DATASOURCE_ERROR', 'clickhouse answered with an unexpected body');
  }
  const total = candidate.rows_before_limit_at_least;
  return { meta: candidate.meta, data: candidate.data, ...(total === undefined ? {} : { rows_before_limit_at_least: total }) };
}

/** `Nullable(T)` and `LowCardinality(T)` read as T. */
function unwrap(type: string): string {
  let inner = type;
  for (;;) {
    const m = /^(?:Nullable|LowCardinality)\((.*)\)$/.exec(inner);
    if (m === null) return inner;
    inner = m[1] ?? '';
  }
}

export function clickhouseParamType(nativeType: string): ParamType | undefined {
  const type = unwrap(nativeType);
  if (/^(Int8|Int16|Int32|UInt8|UInt16)$/.test(type)) return 'INT';
  if (/^(UInt32|Int64|UInt64)$/.test(type)) return 'LONG';
  if (/^(Float32|Float64|Decimal(32|64|128)?\(.*\))$/.test(type)) return 'DOUBLE';
  if (/^(String|FixedString\(\d+\)|Enum(8|16)?\(.*\)|UUID)$/.test(type)) return 'STRING';
  if (type === 'Date') return 'DATE';
  if (/^DateTime(\('[^']+'\))?$/.test(type)) return 'DATETIME';
  return undefined;
}

/**
 * Reads a column's JSONCompact values as plain JS values. 64-bit integers arrive quoted and
 * stay strings (exact); Decimal arrives as a JSON number (18.16 cannot quote it).
 */
function jsonReader(type: string, timezone: string | undefined): (value: unknown) => unknown {
  const parse: (text: string) => unknown =
    unwrap(type) === 'Date' ? parseDate : timezone !== undefined ? (text) => parseDateTime(text, timezone) : (text) => text;
  return (value) => (typeof value !== 'string' ? (value ?? null) : parse(value));
}

function parseDate(text: string): Date | string {
  // 18.16 writes day 0 (1970-01-01) as 0000-00-00.
  if (text === '0000-00-00') return new Date(0);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  return m === null ? text : new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
}

function parseDateTime(text: string, timezone: string): Date | string {
  if (text === '0000-00-00 00:00:00') return new Date(0);
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (m === null) return text;
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return new Date(wallClockToUtc(wall, timezone));
}

const UTC_ZONES = new Set(['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT', 'UCT', 'Etc/UCT', 'Universal', 'Etc/Universal', 'Zulu', 'Etc/Zulu']);
const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/** The instant at which the clocks of `timezone` show `wall` (a UTC-encoded wall-clock time). */
function wallClockToUtc(wall: number, timezone: string): number {
  if (UTC_ZONES.has(timezone)) return wall;
  // Two passes settle the offset around DST changes, as the zone's own rules decide.
  const first = wall - zoneOffset(wall, timezone);
  const second = wall - zoneOffset(first, timezone);
  return second;
}

function zoneOffset(instant: number, timezone: string): number {
  let format = zoneFormats.get(timezone);
  if (format === undefined) {
    try {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone: timezone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      });
    } catch (err) {
      throw new RollgateError('DATASOURCE_ERROR', `clickhouse time zone ${JSON.stringify(timezone)} is unknown here`, { cause: err });
    }
    zoneFormats.set(timezone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(new Date(instant))) parts[part.type] = Number(part.value);
  const shown = Date.UTC(parts['year'] ?? 1970, (parts['month'] ?? 1) - 1, parts['day'] ?? 1, parts['hour'] ?? 0, parts['minute'] ?? 0, parts['second'] ?? 0);
  return shown - Math.floor(instant / 1000) * 1000;
}
