import { RollgateError } from '../../errors.js';

/**
 * About how many bytes a value takes in the JSON answer: cheap enough to count every cell while rows arrive, so
 * a result is cut off before it is all in memory rather than after.
 */
export function approximateBytes(value: unknown): number {
  if (value === null || value === undefined) return 4;
  if (typeof value === 'string') return value.length + 2;
  if (typeof value === 'number' || typeof value === 'bigint') return 20;
  if (typeof value === 'boolean') return 5;
  if (value instanceof Date) return 26;
  return String(value).length;
}

/** The row's cells and their names, as approximateBytes counts them. */
export function approximateRowBytes(row: Record<string, unknown>): number {
  let bytes = 2;
  for (const [name, value] of Object.entries(row)) bytes += name.length + 4 + approximateBytes(value);
  return bytes;
}

export function resultTooLarge(maxBytes: number): RollgateError {
  return new RollgateError('PAYLOAD_TOO_LARGE', `the result is larger than ${maxBytes} bytes (API_MAX_RESULT_BYTES): ask for fewer rows or columns, or page it`);
}
