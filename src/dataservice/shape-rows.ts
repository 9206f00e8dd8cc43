import { UTCDate } from '@date-fns/utc';
import { format as formatDate } from 'date-fns';
import type { ParamType } from './bound-sql.js';
import { outputName, type ResponseParam } from './definition.js';

export type OutputValue = string | number | boolean | null;
export type OutputRow = Record<string, OutputValue>;

/**
 * Rows as the API promises them: each response parameter under its name,
 * converted to its declared type, dates in UTC with the optional pattern.
 * Columns a script returns without a response parameter pass through, with
 * dates as ISO-8601 and 64-bit integers exact.
 */
export function shapeRows(rows: ReadonlyArray<Record<string, unknown>>, params: readonly ResponseParam[], passThrough: boolean): OutputRow[] {
  const byColumn = new Map(params.map((p) => [p.column, p]));
  return rows.map((row) => {
    const out: OutputRow = {};
    for (const p of params) out[outputName(p)] = convert(row[p.column], p.type, p.dateFormat);
    if (passThrough) {
      for (const [column, value] of Object.entries(row)) {
        if (!byColumn.has(column)) out[column] = plain(value);
      }
    }
    return out;
  });
}

/** Checks a date pattern when an API is saved, so a bad one never fails a call. */
export function checkDateFormat(pattern: string): string | undefined {
  try {
    formatDate(new UTCDate(0), pattern);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function convert(value: unknown, type: ParamType, pattern: string | undefined): OutputValue {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'STRING':
      return value instanceof Date ? value.toISOString() : String(value);
    case 'INT':
    case 'LONG': {
      const text = typeof value === 'bigint' ? value.toString() : String(value);
      const n = Number(text);
      // Beyond 2^53 a JSON number would silently change: keep the digits as a string.
      return Number.isSafeInteger(n) ? n : text;
    }
    case 'DOUBLE':
      return Number(value);
    case 'BOOLEAN':
      return value === true || value === 1 || value === '1' || value === 'true' || value === 1n;
    case 'DATE':
    case 'DATETIME': {
      const date = value instanceof Date ? value : new Date(String(value));
      if (Number.isNaN(date.getTime())) return String(value);
      if (pattern !== undefined) return formatDate(new UTCDate(date.getTime()), pattern);
      return type === 'DATE' ? date.toISOString().slice(0, 10) : date.toISOString();
    }
  }
}

function plain(value: unknown): OutputValue {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}
