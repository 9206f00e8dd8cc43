/**
 * The one place where values become ClickHouse SQL text.
 *
 * ClickHouse 18.16 has no server-side query parameters, so every value sent to
 * it is written as a literal. Build queries only with the `sql` tag: an
 * interpolated value is always formatted here, never concatenated, and
 * identifiers must be wrapped with `ident()`.
 */
import type { TypedValue } from '../dataservice/bound-sql.js';

export type SqlValue = string | number | boolean | Date | null;

export class SqlFragment {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export class SqlFormatError extends Error {
  override name = 'SqlFormatError';
}

// Escapes ClickHouse reads inside '...'; everything else below 0x20 and 0x7f goes as \xHH.
const NAMED_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\b': '\\b',
  '\f': '\\f',
  '\r': '\\r',
  '\n': '\\n',
  '\t': '\\t',
  '\0': '\\0',
};

export function formatString(value: string): string {
  if (!value.isWellFormed()) throw new SqlFormatError('string contains a lone UTF-16 surrogate');
  let out = "'";
  for (const ch of value) {
    const named = NAMED_ESCAPES[ch];
    if (named !== undefined) {
      out += named;
      continue;
    }
    const code = ch.codePointAt(0) ?? 0;
    out += code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : ch;
  }
  return `${out}'`;
}

const MIN_NORMAL = 2 ** -1022; // 2.2250738585072014e-308

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) throw new SqlFormatError(`not a finite number: ${String(value)}`);
  // 18.16 rejects subnormal literals (its strtod reports ERANGE): write them as an
  // exact product of two normal doubles, value * 2^1022 and 2^-1022.
  if (value !== 0 && Math.abs(value) < MIN_NORMAL) return `(${String(value * 2 ** 1022)} * ${String(MIN_NORMAL)})`;
  // Negative literals are wrapped so `a -${x}` can never turn into a comment (`--`).
  const text = Number.isInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER ? value.toFixed(0) : String(value);
  return value < 0 || Object.is(value, -0) ? `(${text})` : text;
}

/** A DateTime at second precision, independent of the server's time zone. */
export function formatDateTime(value: Date): string {
  const ms = value.getTime();
  if (!Number.isFinite(ms)) throw new SqlFormatError('invalid date');
  const seconds = Math.floor(ms / 1000);
  if (seconds < 0 || seconds > 4294967295) throw new SqlFormatError('date outside the DateTime range (1970 to 2106)');
  return `toDateTime(${seconds})`;
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * A 64-bit integer, exact. ClickHouse reads a literal past UInt64 as Float64, so
 * anything outside Int64..UInt64 is refused rather than silently rounded.
 */
export function formatBigInt(value: bigint): string {
  if (value < INT64_MIN || value > UINT64_MAX) throw new SqlFormatError('integer outside the 64-bit range');
  // Wrapped like formatNumber's negatives, so `a -${x}` never becomes a `--` comment.
  return value < 0n ? `(${value.toString()})` : value.toString();
}

// 18.16 stores Date as UInt16 days but only reads 1970-01-01..2105-12-31; past that
// toDate() silently yields 0000-00-00, so such dates are refused here.
const MIN_DATE = '1970-01-01';
const MAX_DATE = '2105-12-31';

/** A calendar date `YYYY-MM-DD` (checked to exist: 18.16 turns 2024-02-30 into 2024-03-01). */
export function formatDate(value: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (match === null) throw new SqlFormatError('date must be YYYY-MM-DD');
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    throw new SqlFormatError('not a calendar date');
  }
  if (value < MIN_DATE || value > MAX_DATE) throw new SqlFormatError(`date outside the Date range (${MIN_DATE} to ${MAX_DATE})`);
  return `toDate('${value}')`;
}

/** A DataService request value as a ClickHouse literal of its type. */
export function formatTypedValue(v: TypedValue): string {
  switch (v.type) {
    case 'STRING':
      return formatString(v.value);
    case 'INT':
    case 'DOUBLE':
      return formatNumber(v.value);
    case 'LONG':
      return formatBigInt(v.value);
    case 'BOOLEAN':
      return v.value ? '1' : '0';
    case 'DATE':
      return formatDate(v.value);
    case 'DATETIME':
      return formatDateTime(v.value);
    default: {
      const unknown: never = v;
      throw new SqlFormatError(`unknown value type ${String((unknown as { type?: unknown }).type)}`);
    }
  }
}

export function formatValue(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return formatString(value);
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  return formatDateTime(value);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function ident(name: string): SqlFragment {
  if (!IDENTIFIER.test(name)) throw new SqlFormatError(`not a plain identifier: ${JSON.stringify(name)}`);
  return new SqlFragment(`\`${name}\``);
}

/** `table` or `db.table` as written by an admin, each part a plain identifier. */
export function parseQualifiedName(name: string): { database: string | undefined; table: string } {
  const parts = name.split('.');
  if (parts.length > 2 || !parts.every((p) => IDENTIFIER.test(p))) {
    throw new SqlFormatError(`not a table name: ${JSON.stringify(name)}`);
  }
  return parts.length === 2 ? { database: parts[0], table: parts[1] as string } : { database: undefined, table: name };
}

/** `db.table` with both parts checked. */
export function qualified(database: string, table: string): SqlFragment {
  return new SqlFragment(`${ident(database).text}.${ident(table).text}`);
}

export function join(parts: readonly SqlFragment[], separator: string): SqlFragment {
  return new SqlFragment(parts.map((p) => p.text).join(separator));
}

export function sql(strings: TemplateStringsArray, ...values: ReadonlyArray<SqlValue | SqlFragment>): SqlFragment {
  let text = strings[0] ?? '';
  values.forEach((value, i) => {
    text += value instanceof SqlFragment ? value.text : formatValue(value);
    text += strings[i + 1] ?? '';
  });
  return new SqlFragment(text);
}
