import { invalidParameter } from '../errors.js';
import type { Dialect, ParamType, TypedValue } from './bound-sql.js';

/**
 * Turns one raw request value (a query-string string, or a JSON scalar from a
 * POST body) into a TypedValue, or rejects it with INVALID_PARAMETER naming
 * the parameter and the rule. Everything a caller sends passes through here
 * before it can reach a query.
 */

export type RawScalar = string | number | boolean;

const MAX_STRING = 4096;
const INT32 = { min: -2147483648, max: 2147483647 };
const INT64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d{1,20}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
// ISO-8601 (T or space), seconds and fraction optional, zone optional (UTC when absent).
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** What each store can hold: ClickHouse 18.16's Date and DateTime are unsigned offsets from 1970. */
const RANGES: Record<Dialect, { date: [string, string]; datetime: [number, number] }> = {
  clickhouse: { date: ['1970-01-01', '2149-06-06'], datetime: [0, 4294967295_000] },
  mysql: { date: ['1000-01-01', '9999-12-31'], datetime: [Date.UTC(1000, 0, 1), Date.UTC(9999, 11, 31, 23, 59, 59)] },
  duckdb: { date: ['1000-01-01', '9999-12-31'], datetime: [Date.UTC(1000, 0, 1), Date.UTC(9999, 11, 31, 23, 59, 59)] },
};

export function parseValue(name: string, type: ParamType, raw: RawScalar, dialect: Dialect): TypedValue {
  switch (type) {
    case 'STRING': {
      const value = typeof raw === 'string' ? raw : String(raw);
      if (value.length > MAX_STRING) throw invalidParameter(name, `${name} must be at most ${MAX_STRING} characters`);
      if (!value.isWellFormed()) throw invalidParameter(name, `${name} must be well-formed Unicode text`);
      return { type, value };
    }
    case 'INT': {
      const n = integerOf(raw);
      if (n === undefined || n < BigInt(INT32.min) || n > BigInt(INT32.max)) {
        throw invalidParameter(name, `${name} must be an integer between ${INT32.min} and ${INT32.max}`);
      }
      return { type, value: Number(n) };
    }
    case 'LONG': {
      const n = integerOf(raw);
      if (n === undefined || n < INT64.min || n > INT64.max) {
        throw invalidParameter(name, `${name} must be a 64-bit integer`);
      }
      return { type, value: n };
    }
    case 'DOUBLE': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && DECIMAL.test(raw.trim()) ? Number(raw.trim()) : NaN;
      if (!Number.isFinite(n)) throw invalidParameter(name, `${name} must be a finite number`);
      return { type, value: n };
    }
    case 'BOOLEAN': {
      if (raw === true || raw === 'true' || raw === '1' || raw === 1) return { type, value: true };
      if (raw === false || raw === 'false' || raw === '0' || raw === 0) return { type, value: false };
      throw invalidParameter(name, `${name} must be true or false`);
    }
    case 'DATE': {
      const m = typeof raw === 'string' ? DATE.exec(raw.trim()) : null;
      const [lo, hi] = RANGES[dialect].date;
      if (m === null || !isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]))) {
        throw invalidParameter(name, `${name} must be a date as YYYY-MM-DD`);
      }
      const value = m[0];
      if (value < lo || value > hi) throw invalidParameter(name, `${name} must be between ${lo} and ${hi}`);
      return { type, value };
    }
    case 'DATETIME': {
      const ms = instantOf(raw);
      if (ms === undefined) {
        throw invalidParameter(name, `${name} must be an ISO-8601 time (UTC unless it has an offset) or epoch milliseconds`);
      }
      const [lo, hi] = RANGES[dialect].datetime;
      if (ms < lo || ms > hi) {
        throw invalidParameter(name, `${name} must be between ${new Date(lo).toISOString()} and ${new Date(hi).toISOString()}`);
      }
      return { type, value: new Date(ms) };
    }
  }
}

function integerOf(raw: RawScalar): bigint | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? BigInt(raw) : undefined;
  if (typeof raw === 'string' && INTEGER.test(raw.trim())) return BigInt(raw.trim());
  return undefined;
}

function isCalendarDate(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  t.setUTCFullYear(y);
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

function instantOf(raw: RawScalar): number | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  const s = raw.trim();
  if (/^\d{1,15}$/.test(s)) return Number(s);
  const m = DATETIME.exec(s);
  if (m === null) return undefined;
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', zone] = m;
  if (!isCalendarDate(Number(y), Number(mo), Number(d)) || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return undefined;
  const local = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), Number(frac.padEnd(3, '0').slice(0, 3))));
  local.setUTCFullYear(Number(y));
  let offsetMinutes = 0;
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
    if (z === null || Number(z[2]) > 23 || Number(z[3]) > 59) return undefined;
    offsetMinutes = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3]));
  }
  return local.getTime() - offsetMinutes * 60_000;
}
