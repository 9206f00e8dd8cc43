/**
 * The one place where values become ClickHouse SQL text.
 *
 * ClickHouse 18.16 has no server-side query parameters, so every value sent to
 * it is written as a literal. Build queries only with the `sql` tag: an
 * interpolated value is always formatted here, never concatenated, and
 * identifiers must be wrapped with `ident()`.
 */
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
