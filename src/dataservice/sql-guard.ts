/**
 * What a published script may read and call, checked on the parsed SELECT (node-sql-parser's AST) when an API
 * is saved and again whenever a version is prepared for serving, so a script saved before a rule existed is
 * held to it too.
 *
 * The database user's privileges are the second wall (README: "Script APIs"); this is the first, and it does
 * not depend on how the data source was set up:
 *
 * - tables: never rollgate's own (`rollgate_*`: apps and their sealed secrets, data sources, flows, checkpoints)
 *   nor a server's catalogs (`mysql.*`, `information_schema`, ClickHouse `system.*`, DuckDB and PostgreSQL
 *   catalogs);
 * - FROM items: tables, joins and subqueries only. Table functions (`read_csv()`, `url()`, `numbers()`,
 *   `generateRandom()`, `merge()`, `remote()`, …) read files, hosts or unbounded rows, and ClickHouse's
 *   `readonly=1` no longer stops them on current servers;
 * - functions: an allow-list of pure, bounded ones. Anything else (`LOAD_FILE`, `SLEEP`, `BENCHMARK`,
 *   `GET_LOCK`, `checkpoint()`, `getenv()`, …) is refused by name, as is every schema-qualified call;
 * - no session or system variables (`@@datadir`, `@x`).
 */
import { RollgateError } from '../errors.js';
import type { Dialect } from './bound-sql.js';
import { prop, walk } from './sql-ast.js';

/** Schemas that describe the server, its users or its settings rather than data. */
const CATALOG_SCHEMAS = new Set(['mysql', 'information_schema', 'performance_schema', 'sys', 'system', 'pg_catalog', 'temp']);
/** Table-name prefixes of rollgate's own tables and of engines' catalog views. */
const RESERVED_PREFIXES = ['rollgate_', 'duckdb_', 'sqlite_', 'pg_'];

const COMMON = [
  // aggregates
  'count', 'sum', 'min', 'max', 'avg', 'group_concat', 'string_agg', 'stddev', 'stddev_pop', 'stddev_samp', 'variance', 'var_pop', 'var_samp',
  'median', 'bit_and', 'bit_or', 'bit_xor', 'any_value',
  // window functions
  'row_number', 'rank', 'dense_rank', 'percent_rank', 'cume_dist', 'ntile', 'lag', 'lead', 'first_value', 'last_value', 'nth_value',
  // conditionals and nulls
  'coalesce', 'nullif', 'ifnull', 'if', 'greatest', 'least', 'isnull',
  // numbers
  'abs', 'round', 'floor', 'ceil', 'ceiling', 'sign', 'sqrt', 'pow', 'power', 'exp', 'ln', 'log', 'log2', 'log10', 'mod', 'truncate', 'pi',
  'degrees', 'radians', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'atan2', 'div',
  // text
  'concat', 'concat_ws', 'lower', 'upper', 'lcase', 'ucase', 'length', 'char_length', 'character_length', 'octet_length', 'substring', 'substr',
  'trim', 'ltrim', 'rtrim', 'replace', 'left', 'right', 'lpad', 'rpad', 'reverse', 'position', 'locate', 'instr', 'strpos', 'split_part',
  'starts_with', 'ends_with', 'repeat', 'format', 'hex', 'unhex', 'md5', 'sha1', 'sha2', 'crc32', 'regexp_replace', 'regexp_like', 'ascii',
  // dates
  'date', 'year', 'month', 'day', 'dayofmonth', 'dayofweek', 'dayofyear', 'hour', 'minute', 'second', 'week', 'quarter', 'extract',
  'date_format', 'date_add', 'date_sub', 'datediff', 'timestampdiff', 'timestampadd', 'now', 'current_date', 'current_timestamp',
  'unix_timestamp', 'from_unixtime', 'to_char', 'date_trunc', 'date_part', 'to_timestamp', 'make_date', 'last_day',
  // JSON values
  'json_extract', 'json_unquote', 'json_value', 'json_length',
];

const BY_DIALECT: Record<Dialect, readonly string[]> = {
  mysql: [...COMMON, 'str_to_date', 'time_format', 'weekday', 'yearweek', 'convert_tz', 'time_to_sec', 'sec_to_time', 'field', 'elt'],
  clickhouse: [
    ...COMMON,
    'any', 'anylast', 'argmax', 'argmin', 'uniq', 'uniqexact', 'uniqcombined', 'uniqhll12', 'countif', 'sumif', 'avgif', 'minif', 'maxif',
    'quantile', 'quantiles', 'quantileexact', 'grouparray', 'groupuniqarray', 'topk',
    'todate', 'todatetime', 'tostartofminute', 'tostartoffiveminute', 'tostartoffiveminutes', 'tostartoffifteenminutes', 'tostartofhour',
    'tostartofday', 'tostartofweek', 'tostartofmonth', 'tostartofquarter', 'tostartofyear', 'tostartofinterval', 'tomonday', 'toyyyymm',
    'toyyyymmdd', 'toyear', 'tomonth', 'todayofmonth', 'todayofweek', 'tohour', 'tominute', 'tosecond', 'tounixtimestamp', 'formatdatetime',
    'parsedatetimebesteffort', 'adddays', 'addhours', 'addminutes', 'addseconds', 'subtractdays', 'subtracthours', 'subtractminutes',
    'tostring', 'touint8', 'touint16', 'touint32', 'touint64', 'toint8', 'toint16', 'toint32', 'toint64', 'tofloat32', 'tofloat64',
    'todecimal32', 'todecimal64', 'todecimal128', 'tofixedstring', 'intdiv', 'modulo', 'multiif', 'empty', 'notempty', 'lowerutf8',
    'upperutf8', 'lengthutf8', 'substringutf8', 'positionutf8', 'startswith', 'endswith', 'splitbychar', 'arrayjoin', 'has', 'indexof',
    'cityhash64', 'siphash64', 'xxhash64', 'roundbankers', 'isnotnull', 'assumenotnull', 'tonullable',
  ],
  duckdb: [
    ...COMMON, 'epoch', 'epoch_ms', 'time_bucket', 'strftime', 'strptime', 'make_timestamp', 'age', 'list', 'array_agg', 'arg_max', 'arg_min',
    'approx_count_distinct', 'quantile_cont', 'quantile_disc', 'percentile_cont', 'percentile_disc', 'count_if', 'bool_and', 'bool_or',
  ],
};

const lowerCased = (names: readonly string[]): ReadonlySet<string> => new Set(names.map((f) => f.toLowerCase()));
const ALLOWED: Record<Dialect, ReadonlySet<string>> = {
  mysql: lowerCased(BY_DIALECT.mysql),
  clickhouse: lowerCased(BY_DIALECT.clickhouse),
  duckdb: lowerCased(BY_DIALECT.duckdb),
};

/**
 * A script or table an API may not read: INVALID_PARAMETER when an admin saves it; a published version refused
 * this way is answered FORBIDDEN, since no retry or other input will make it run.
 */
export class ScriptRefused extends RollgateError {
  constructor(field: 'script' | 'table', message: string) {
    super('INVALID_PARAMETER', message, { field });
  }
}

/** Throws ScriptRefused naming the first thing the script may not read or call. */
export function guardScript(ast: unknown, tableList: readonly string[], dialect: Dialect): void {
  for (const entry of tableList) {
    const [, db = 'null', table = ''] = entry.split('::');
    const problem = tableProblem(db === 'null' ? undefined : db, table);
    if (problem !== undefined) throw refuse(problem);
  }
  walk(ast, (node) => {
    const type = prop(node, 'type');
    if (type === 'function' || type === 'aggr_func') {
      const name = functionName(node);
      if (name === undefined || name.includes('.') || !ALLOWED[dialect].has(name.toLowerCase())) {
        throw refuse(`function ${name ?? '(unnamed)'}() is not one script APIs may call (the allowed functions are pure and bounded: aggregates, arithmetic, text and date functions)`);
      }
    } else if (type === 'var') {
      throw refuse('session and system variables (@name, @@name) cannot be read by a script API');
    }
    if (type === 'select') {
      const from = prop(node, 'from');
      if (Array.isArray(from)) from.forEach(checkFromItem);
    }
  });
}

/** A wizard API names one table: the same tables are off limits. */
export function guardTable(qualifiedName: string): void {
  const parts = qualifiedName.split('.');
  const table = parts.pop() ?? '';
  const problem = tableProblem(parts.pop(), table);
  if (problem !== undefined) throw new ScriptRefused('table', `table: ${problem}`);
}

function tableProblem(db: string | undefined, table: string): string | undefined {
  const schema = db?.replace(/^[`"]|[`"]$/g, '').toLowerCase();
  const name = table.replace(/^[`"]|[`"]$/g, '').toLowerCase();
  if (schema !== undefined && CATALOG_SCHEMAS.has(schema)) return `${schema}.${name} is a server catalog, which script APIs cannot read`;
  const prefix = RESERVED_PREFIXES.find((p) => name.startsWith(p));
  if (prefix === 'rollgate_') return `${name} is one of rollgate's own tables, which APIs cannot read`;
  if (prefix !== undefined) return `${name} is a catalog table, which APIs cannot read`;
  return undefined;
}

/** FROM takes tables (joined or not) and subqueries; a function there is a table function. */
function checkFromItem(item: unknown): void {
  const expr = prop(item, 'expr');
  if (typeof prop(item, 'table') === 'string' && expr === undefined) return;
  if (prop(expr, 'ast') !== undefined) return;
  const name = functionName(expr);
  throw refuse(`${name === undefined ? 'this FROM item' : `the table function ${name}()`} cannot be read by a script API: FROM takes tables and subqueries`);
}

/** `{name: {name: [{value: 'a'}, {value: 'b'}]}}` → `a.b`; aggregates carry a plain string. */
function functionName(node: unknown): string | undefined {
  const name = prop(node, 'name');
  if (typeof name === 'string') return name;
  const parts = prop(name, 'name');
  if (!Array.isArray(parts)) return undefined;
  const schema = prop(name, 'schema');
  // `evil.concat(1)` must not pass for concat: the schema is part of the name.
  const values = [...(schema === undefined || schema === null ? [] : [schema]), ...parts].map((p) => prop(p, 'value'));
  return values.every((v): v is string => typeof v === 'string') ? values.join('.') : undefined;
}

function refuse(message: string): ScriptRefused {
  return new ScriptRefused('script', message);
}
