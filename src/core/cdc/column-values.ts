/**
 * How a MySQL/MariaDB column value reaches Kafka: the JSON forms of
 * Debezium's MySQL connector with `decimal.handling.mode=string`, so money
 * stays exact. Pure: the same function encodes snapshot rows (mysql2's
 * binary protocol) and binlog rows (zongji), which is what makes a snapshot
 * row and a streamed row of the same data byte-identical.
 *
 * | column                         | JSON                                                    |
 * |--------------------------------|---------------------------------------------------------|
 * | TINYINT … BIGINT, YEAR          | number; a 64-bit value beyond 2^53 as an exact string   |
 * | DECIMAL, NUMERIC                | exact string, with the column's scale ("-12.3400")      |
 * | FLOAT                           | number, the shortest decimal that is the same float32   |
 * | DOUBLE                          | number                                                  |
 * | CHAR, VARCHAR, TEXT, ENUM, SET  | string (SET: comma-separated)                           |
 * | JSON                            | string holding the JSON text                            |
 * | BINARY, VARBINARY, BLOB, BIT(n) | base64 string; BIT(1) is a boolean                      |
 * | DATE                            | days since 1970-01-01 (io.debezium.time.Date)           |
 * | DATETIME                        | epoch milliseconds of the wall-clock value read as UTC  |
 * | TIMESTAMP                       | ISO-8601 UTC string, e.g. "2026-11-24T08:09:20Z"        |
 * | TIME                            | microseconds (io.debezium.time.MicroTime)               |
 *
 * A value that cannot be encoded this way is still emitted, in a generic
 * form (string, base64, ISO), and the reason is returned as a warning: a
 * change is never dropped for its encoding.
 */

export type ColumnKind =
  | 'integer'
  | 'float'
  | 'double'
  | 'decimal'
  | 'string'
  | 'set'
  | 'json'
  | 'bytes'
  | 'bit1'
  | 'date'
  | 'datetime'
  | 'timestamp'
  | 'time'
  | 'unknown';

export interface ColumnInfo {
  name: string;
  kind: ColumnKind;
}

export interface TableSchema {
  database: string;
  table: string;
  /** In ordinal order. */
  columns: ColumnInfo[];
  /** Primary-key column names in key order; empty when the table has none. */
  primaryKey: string[];
}

export type EncodedValue = string | number | boolean | null;

/** From information_schema.COLUMNS: DATA_TYPE and COLUMN_TYPE. */
export function columnKind(dataType: string, columnType: string): ColumnKind {
  const t = dataType.toLowerCase();
  switch (t) {
    case 'tinyint':
    case 'smallint':
    case 'mediumint':
    case 'int':
    case 'integer':
    case 'bigint':
    case 'year':
      return 'integer';
    case 'float':
      return 'float';
    case 'double':
    case 'real':
    case 'double precision':
      return 'double';
    case 'decimal':
    case 'numeric':
    case 'dec':
    case 'fixed':
      return 'decimal';
    case 'char':
    case 'varchar':
    case 'tinytext':
    case 'text':
    case 'mediumtext':
    case 'longtext':
    case 'enum':
    case 'uuid':
    case 'inet4':
    case 'inet6':
      return 'string';
    case 'set':
      return 'set';
    case 'json':
      return 'json';
    case 'binary':
    case 'varbinary':
    case 'tinyblob':
    case 'blob':
    case 'mediumblob':
    case 'longblob':
    case 'geometry':
    case 'point':
    case 'linestring':
    case 'polygon':
    case 'vector':
      return 'bytes';
    case 'bit':
      return /^bit\(1\)/i.test(columnType.trim()) ? 'bit1' : 'bytes';
    case 'date':
      return 'date';
    case 'datetime':
      return 'datetime';
    case 'timestamp':
      return 'timestamp';
    case 'time':
      return 'time';
    default:
      return 'unknown';
  }
}

const DAY_MS = 86_400_000;
const DECIMAL = /^-?\d+(\.\d+)?$/;
const INTEGER = /^-?\d+$/;

/** Thrown for a value its column kind cannot take; the caller falls back to `genericValue`. */
class EncodeError extends Error {}

/** One column value in its Debezium JSON form. Throws EncodeError when the value does not fit its kind. */
export function encodeValue(kind: ColumnKind, value: unknown): EncodedValue {
  const encoded = encodeByKind(kind, value);
  // JSON has no -0: it would read back as 0, so a replayed event could differ from the original.
  return Object.is(encoded, -0) ? 0 : encoded;
}

function encodeByKind(kind: ColumnKind, value: unknown): EncodedValue {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'integer':
      return integerValue(value);
    case 'float':
      return float32Value(value);
    case 'double':
      return finiteNumber(typeof value === 'string' ? Number(value) : value);
    case 'decimal':
      return decimalValue(value);
    case 'string':
      if (typeof value === 'string') return value;
      if (Buffer.isBuffer(value)) return value.toString('utf8');
      throw new EncodeError(`expected text, got ${typeName(value)}`);
    case 'set':
      if (Array.isArray(value)) return value.map(String).join(',');
      if (typeof value === 'string') return value;
      throw new EncodeError(`expected a SET value, got ${typeName(value)}`);
    case 'json':
      if (typeof value === 'string') return value;
      if (Buffer.isBuffer(value)) return value.toString('utf8');
      return JSON.stringify(value, bigintAsString);
    case 'bytes':
      if (Buffer.isBuffer(value)) return value.toString('base64');
      if (typeof value === 'string') return Buffer.from(value, 'utf8').toString('base64');
      throw new EncodeError(`expected bytes, got ${typeName(value)}`);
    case 'bit1':
      if (Buffer.isBuffer(value)) return value.some((b) => b !== 0);
      if (typeof value === 'number' || typeof value === 'boolean') return Boolean(value);
      throw new EncodeError(`expected a bit, got ${typeName(value)}`);
    case 'date':
      return Math.round(utcMs(value, 'DATE') / DAY_MS);
    case 'datetime':
      return utcMs(value, 'DATETIME');
    case 'timestamp':
      return isoUtc(utcMs(value, 'TIMESTAMP'));
    case 'time':
      return timeMicros(value);
    case 'unknown':
      return genericValue(value);
  }
}

/** A value in a form JSON can carry, whatever it is; used for unknown types and encoding failures. */
export function genericValue(value: unknown): EncodedValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? (Object.is(value, -0) ? 0 : value) : String(value);
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  try {
    return JSON.stringify(value, bigintAsString) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Encodes every column of a row image; never throws. Columns the schema does not know are encoded generically. */
export function encodeRow(schema: TableSchema, row: Readonly<Record<string, unknown>>): { values: Record<string, EncodedValue>; warnings: string[] } {
  const values: Record<string, EncodedValue> = {};
  const warnings: string[] = [];
  const kinds = new Map(schema.columns.map((c) => [c.name, c.kind]));
  // Schema order first, so every message of a table lists its columns the same way.
  const names = [...schema.columns.map((c) => c.name).filter((n) => n in row), ...Object.keys(row).filter((n) => !kinds.has(n))];
  for (const name of names) {
    const kind = kinds.get(name) ?? 'unknown';
    const raw = row[name];
    try {
      values[name] = encodeValue(kind, raw);
      if (!kinds.has(name)) warnings.push(`${name}: column unknown to the captured schema, encoded by its value`);
    } catch (err) {
      values[name] = genericValue(raw);
      warnings.push(`${name}: ${err instanceof Error ? err.message : String(err)}; emitted as ${JSON.stringify(values[name])}`);
    }
  }
  return { values, warnings };
}

/** The shortest decimal that reads back as the same 32-bit float: what the client wrote, as MySQL prints it. */
export function shortestFloat32(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.fround(x);
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(f.toPrecision(digits));
    if (Math.fround(candidate) === f) return candidate;
  }
  return f;
}

function integerValue(value: unknown): number | string {
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return value;
    throw new EncodeError(`expected an integer, got ${value}`);
  }
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (typeof value === 'string' && INTEGER.test(value)) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value.replace(/^(-?)0+(?=\d)/, '$1');
  }
  throw new EncodeError(`expected an integer, got ${typeName(value)}`);
}

function float32Value(value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  // A double beyond float32's range cannot have come from a FLOAT column; say so rather than write Infinity.
  return finiteNumber(shortestFloat32(finiteNumber(n)));
}

function finiteNumber(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new EncodeError(`expected a finite number, got ${typeName(value)}`);
}

function decimalValue(value: unknown): string {
  if (typeof value === 'string' && DECIMAL.test(value)) return value;
  // A DECIMAL that arrived as a float may already have lost digits: emit it, but say so.
  if (typeof value === 'number' || typeof value === 'bigint') throw new EncodeError(`DECIMAL arrived as a ${typeof value} (${String(value)}), not an exact string`);
  throw new EncodeError(`expected a decimal string, got ${typeName(value)}`);
}

/** Clients are configured with timezone 'Z', so wall-clock values (DATE, DATETIME) arrive as their UTC reading. */
function utcMs(value: unknown, type: string): number {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw new EncodeError(`invalid ${type} (a zero date?)`);
    return ms;
  }
  if (typeof value === 'string') {
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?Z?$/.exec(value);
    if (m !== null) {
      const [, y, mo, d, h = '0', mi = '0', s = '0', frac = ''] = m;
      const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(frac.padEnd(3, '0').slice(0, 3)));
      if (Number(y) === 0 || Number(mo) === 0 || Number(d) === 0 || Number.isNaN(ms)) throw new EncodeError(`zero or invalid ${type} ${value}`);
      return ms;
    }
  }
  throw new EncodeError(`expected a ${type}, got ${typeName(value)}`);
}

function isoUtc(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

function timeMicros(value: unknown): number {
  if (typeof value === 'string') {
    const m = /^(-)?(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(value);
    if (m !== null) {
      const [, sign, h, mi, s, frac = ''] = m;
      const micros = ((Number(h) * 60 + Number(mi)) * 60 + Number(s)) * 1_000_000 + Number(frac.padEnd(6, '0'));
      return sign === '-' ? -micros : micros;
    }
  }
  throw new EncodeError(`expected a TIME, got ${typeName(value)}`);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Buffer.isBuffer(value)) return 'bytes';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'string') return `text ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return typeof value;
}

function bigintAsString(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}
