import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { columnKind, encodeRow, encodeValue, shortestFloat32, type TableSchema } from '../../../../src/core/cdc/column-values.js';

describe('columnKind', () => {
  it('maps information_schema types to encodings', () => {
    expect(columnKind('int', 'int(11)')).toBe('integer');
    expect(columnKind('bigint', 'bigint(20) unsigned')).toBe('integer');
    expect(columnKind('float', 'float')).toBe('float');
    expect(columnKind('decimal', 'decimal(12,4)')).toBe('decimal');
    expect(columnKind('enum', "enum('Male','Female')")).toBe('string');
    expect(columnKind('timestamp', 'timestamp')).toBe('timestamp');
    expect(columnKind('bit', 'bit(1)')).toBe('bit1');
    expect(columnKind('bit', 'bit(8)')).toBe('bytes');
    expect(columnKind('something_new', 'something_new')).toBe('unknown');
  });
});

describe('encodeValue', () => {
  it('keeps DECIMAL exact: the string the server sent, scale included', () => {
    expect(encodeValue('decimal', '-123.4500')).toBe('-123.4500');
    expect(encodeValue('decimal', '99999999999999999999.99')).toBe('99999999999999999999.99');
    expect(encodeValue('decimal', '0.1000')).toBe('0.1000');
  });

  it('refuses a DECIMAL that arrived as a float (the caller emits it generically, with a warning)', () => {
    expect(() => encodeValue('decimal', 0.1)).toThrow(/not an exact string/);
  });

  it("writes a FLOAT as the shortest decimal of its float32, so the binlog's 12.34000015… and the client's 12.34 agree", () => {
    expect(encodeValue('float', 12.34000015258789)).toBe(12.34);
    expect(encodeValue('float', 0.10000000149011612)).toBe(0.1);
    expect(encodeValue('float', 1234567)).toBe(1234567);
    expect(encodeValue('float', 37)).toBe(37);
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (f) => {
        const shortest = shortestFloat32(f);
        expect(Math.fround(shortest) === Math.fround(f)).toBe(true);
        // Never longer than the double the binlog decoder hands over.
        expect(String(shortest).length).toBeLessThanOrEqual(String(Math.fround(f)).length);
      }),
    );
  });

  it('keeps 64-bit integers beyond 2^53 exact, as strings', () => {
    expect(encodeValue('integer', '18446744073709551615')).toBe('18446744073709551615');
    expect(encodeValue('integer', '42')).toBe(42);
    expect(encodeValue('integer', 2n ** 60n)).toBe('1152921504606846976');
    expect(encodeValue('integer', -7)).toBe(-7);
  });

  it("encodes temporal types as Debezium's MySQL connector does", () => {
    // DATE: days since the epoch; DATETIME: epoch ms of the wall clock read as UTC; TIMESTAMP: ISO UTC; TIME: µs.
    expect(encodeValue('date', new Date('2026-01-02T00:00:00Z'))).toBe(20455);
    expect(encodeValue('datetime', new Date('2026-11-24T10:11:12.345Z'))).toBe(Date.UTC(2026, 10, 24, 10, 11, 12, 345));
    expect(encodeValue('timestamp', new Date('2026-11-24T08:09:20Z'))).toBe('2026-11-24T08:09:20Z');
    expect(encodeValue('timestamp', new Date('2026-11-24T08:09:20.5Z'))).toBe('2026-11-24T08:09:20.500Z');
    expect(encodeValue('timestamp', '2026-11-24 08:09:20')).toBe('2026-11-24T08:09:20Z');
    expect(encodeValue('time', '-12:34:56')).toBe(-((12 * 60 + 34) * 60 + 56) * 1_000_000);
    expect(encodeValue('time', '838:59:59.5')).toBe(((838 * 60 + 59) * 60 + 59) * 1_000_000 + 500_000);
    expect(() => encodeValue('date', new Date(Number.NaN))).toThrow(/zero date/);
    expect(() => encodeValue('datetime', '0000-00-00 00:00:00')).toThrow(/zero/);
  });

  it('encodes bytes as base64, BIT(1) as a boolean, SET as a comma list, JSON as text', () => {
    expect(encodeValue('bytes', Buffer.from([0, 255]))).toBe('AP8=');
    expect(encodeValue('bit1', Buffer.from([1]))).toBe(true);
    expect(encodeValue('bit1', Buffer.from([0]))).toBe(false);
    expect(encodeValue('set', ['a', 'b'])).toBe('a,b');
    expect(encodeValue('json', { a: 1, big: 2n ** 64n })).toBe('{"a":1,"big":"18446744073709551616"}');
    expect(encodeValue('json', '{"a": 1}')).toBe('{"a": 1}');
    expect(encodeValue('string', '北京')).toBe('北京');
  });

  it('passes NULL through for every kind', () => {
    for (const kind of ['integer', 'float', 'decimal', 'string', 'bytes', 'date', 'timestamp', 'unknown'] as const) expect(encodeValue(kind, null)).toBeNull();
  });
});

describe('encodeRow', () => {
  const schema: TableSchema = {
    database: 'rollgate',
    table: 't',
    columns: [
      { name: 'id', kind: 'integer' },
      { name: 'amount', kind: 'decimal' },
      { name: 'at', kind: 'timestamp' },
    ],
    primaryKey: ['id'],
  };

  it('emits every column, in schema order', () => {
    expect(encodeRow(schema, { at: new Date('2026-11-24T08:00:00Z'), amount: '12.3400', id: 1 })).toEqual({
      values: { id: 1, amount: '12.3400', at: '2026-11-24T08:00:00Z' },
      warnings: [],
    });
  });

  it('never drops a value it cannot encode: it emits a generic form and says why', () => {
    const { values, warnings } = encodeRow(schema, { id: 'not a number', amount: 0.1, at: new Date(Number.NaN), added_later: Buffer.from('hi') });
    expect(values).toEqual({ id: 'not a number', amount: 0.1, at: null, added_later: 'aGk=' });
    expect(warnings).toHaveLength(4);
    expect(warnings.join('\n')).toMatch(/amount: DECIMAL arrived as a number/);
    expect(warnings.join('\n')).toMatch(/added_later: column unknown/);
  });

  it('never throws, and its output is always JSON, whatever the values', () => {
    const kinds = ['integer', 'float', 'double', 'decimal', 'string', 'set', 'json', 'bytes', 'bit1', 'date', 'datetime', 'timestamp', 'time', 'unknown'] as const;
    const anyValue = fc.oneof(
      fc.anything(),
      fc.bigInt(),
      fc.date({ noInvalidDate: false }),
      fc.uint8Array().map((a) => Buffer.from(a)),
      fc.double(),
      fc.constantFrom('0000-00-00', '-1:00:00', '', '1e400'),
    );
    fc.assert(
      fc.property(fc.constantFrom(...kinds), anyValue, (kind, value) => {
        const wide: TableSchema = { database: 'd', table: 't', columns: [{ name: 'c', kind }], primaryKey: [] };
        const { values } = encodeRow(wide, { c: value });
        const json = JSON.stringify(values);
        expect(JSON.parse(json)).toEqual(values);
      }),
      { numRuns: 2000 },
    );
  });
});
