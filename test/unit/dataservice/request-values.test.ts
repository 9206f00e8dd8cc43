import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RollgateError } from '../../../src/errors.js';
import { parseValue } from '../../../src/dataservice/request-values.js';

const rejects = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RollgateError);
    expect((err as RollgateError).code).toBe('INVALID_PARAMETER');
    expect((err as RollgateError).field).toBe('p');
    return;
  }
  throw new Error('expected a rejection');
};

describe('parseValue', () => {
  it('reads every type from query-string text and from JSON scalars', () => {
    expect(parseValue('p', 'STRING', 'a b', 'mysql')).toEqual({ type: 'STRING', value: 'a b' });
    expect(parseValue('p', 'INT', '-42', 'mysql')).toEqual({ type: 'INT', value: -42 });
    expect(parseValue('p', 'INT', 7, 'mysql')).toEqual({ type: 'INT', value: 7 });
    expect(parseValue('p', 'LONG', '9223372036854775807', 'mysql')).toEqual({ type: 'LONG', value: 9223372036854775807n });
    expect(parseValue('p', 'DOUBLE', '1.5e3', 'mysql')).toEqual({ type: 'DOUBLE', value: 1500 });
    expect(parseValue('p', 'BOOLEAN', 'true', 'mysql')).toEqual({ type: 'BOOLEAN', value: true });
    expect(parseValue('p', 'BOOLEAN', 0, 'mysql')).toEqual({ type: 'BOOLEAN', value: false });
    expect(parseValue('p', 'DATE', '2024-02-29', 'mysql')).toEqual({ type: 'DATE', value: '2024-02-29' });
    expect(parseValue('p', 'DATETIME', '2026-11-22T09:05:00Z', 'mysql')).toEqual({ type: 'DATETIME', value: new Date('2026-11-22T09:05:00Z') });
    expect(parseValue('p', 'DATETIME', '2026-11-22 09:05:00', 'mysql').value).toEqual(new Date('2026-11-22T09:05:00Z'));
    expect(parseValue('p', 'DATETIME', '2026-11-22T10:05:00+01:00', 'mysql').value).toEqual(new Date('2026-11-22T09:05:00Z'));
    expect(parseValue('p', 'DATETIME', '1795338300000', 'mysql').value).toEqual(new Date(1795338300000));
  });

  it('rejects values outside each type, naming the parameter', () => {
    rejects(() => parseValue('p', 'INT', '2147483648', 'mysql'));
    rejects(() => parseValue('p', 'INT', '1.5', 'mysql'));
    rejects(() => parseValue('p', 'INT', '0x10', 'mysql'));
    rejects(() => parseValue('p', 'LONG', '9223372036854775808', 'mysql'));
    rejects(() => parseValue('p', 'DOUBLE', 'NaN', 'mysql'));
    rejects(() => parseValue('p', 'DOUBLE', '1e999', 'mysql'));
    rejects(() => parseValue('p', 'DOUBLE', 'Infinity', 'mysql'));
    rejects(() => parseValue('p', 'BOOLEAN', 'yes', 'mysql'));
    rejects(() => parseValue('p', 'DATE', '2023-02-29', 'mysql'));
    rejects(() => parseValue('p', 'DATE', '2024-1-1', 'mysql'));
    rejects(() => parseValue('p', 'DATETIME', 'Tue 5 May', 'mysql'));
    rejects(() => parseValue('p', 'DATETIME', '2026-11-22T25:00:00Z', 'mysql'));
    rejects(() => parseValue('p', 'STRING', 'x'.repeat(4097), 'mysql'));
    rejects(() => parseValue('p', 'STRING', '\uD800', 'mysql'));
  });

  it("keeps dates inside what the store can hold (ClickHouse's start at 1970)", () => {
    rejects(() => parseValue('p', 'DATE', '1969-12-31', 'clickhouse'));
    expect(parseValue('p', 'DATE', '1969-12-31', 'mysql').value).toBe('1969-12-31');
    rejects(() => parseValue('p', 'DATETIME', '1960-01-01T00:00:00Z', 'clickhouse'));
    rejects(() => parseValue('p', 'DATETIME', '2200-01-01T00:00:00Z', 'clickhouse'));
  });

  it('either returns a value of the asked type or throws INVALID_PARAMETER, for any input', () => {
    const types = ['STRING', 'INT', 'LONG', 'DOUBLE', 'BOOLEAN', 'DATE', 'DATETIME'] as const;
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.oneof(fc.string(), fc.double(), fc.boolean(), fc.integer()), fc.constantFrom('clickhouse', 'mysql', 'duckdb' as const), (type, raw, dialect) => {
        try {
          expect(parseValue('p', type, raw, dialect).type).toBe(type);
        } catch (err) {
          expect((err as RollgateError).code).toBe('INVALID_PARAMETER');
        }
      }),
      { numRuns: 3000 },
    );
  });
});
