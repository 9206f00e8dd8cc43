// The audit of src/core/sql-literal.ts against a real ClickHouse (18.16 in CI):
// every value the formatter writes must come back from the server unchanged.
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ident, join, sql, type SqlFragment } from '../../src/core/sql-literal.js';

const TIMEOUT = 60_000;
const BATCH = 50;
// Bounded: each property run is one query of BATCH values.
const STRING_RUNS = 100;
const NUMBER_RUNS = 100;
const DATE_RUNS = 20;

function clickhouseUrl(): string {
  const url = process.env['CLICKHOUSE_URL'];
  if (!url) throw new Error('CLICKHOUSE_URL is not set: run `scripts/stack.sh up` and export the CLICKHOUSE_URL it prints');
  return url;
}

let client: ClickHouseClient;

beforeAll(() => {
  // 18.16 rejects settings it does not know; send none.
  client = createClient({ url: clickhouseUrl(), request_timeout: 30_000, clickhouse_settings: {} });
});

afterAll(async () => {
  await client?.close();
});

async function one<T>(query: SqlFragment): Promise<T> {
  const rows = await (await client.query({ query: query.text, format: 'JSONEachRow' })).json<T>();
  expect(rows).toHaveLength(1);
  return rows[0] as T;
}

/** `[a, b, c]` with each element built by `f`. */
function array<T>(values: readonly T[], f: (v: T) => SqlFragment): SqlFragment {
  return sql`[${join(values.map(f), ', ')}]`;
}

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

// --- strings ----------------------------------------------------------------

const adversarial = fc.constantFrom(
  "'", "''", '\\', "\\'", '\\\\', '\\x', '\\x41', '\\0', '--', '/*', '*/', ';', '\n', '\r', '\t', '\0', '\x7f', '\x1b', '`', '"',
  '?', '{', '}', '\u2028', '\u2029', '\ufeff', '\uffff', '\u{10ffff}', '😀', 'é',
);
const anyUtf16 = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const stringArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }), // fast-check 4's fullUnicodeString: any code point
  anyUtf16.filter((s) => s.isWellFormed()), // raw UTF-16 units, kept only if surrogates pair up
  fc.string({ unit: 'binary-ascii', maxLength: 60 }), // U+0000..U+00FF, control characters included
  fc.string({ unit: fc.oneof(adversarial, fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 })), maxLength: 30 }),
  fc.string({ maxLength: 20 }),
);

async function roundTripStrings(values: readonly string[]): Promise<void> {
  const row = await one<{ v: string[]; n: string[] }>(
    sql`SELECT ${array(values, (s) => sql`${s}`)} AS v, arrayMap(x -> length(x), v) AS n`,
  );
  expect(row.v).toEqual(values);
  // Same bytes on the server, not just the same text after decoding.
  expect(row.n.map(Number)).toEqual(values.map(utf8Length));
}

describe('string literals on ClickHouse', () => {
  it('round-trips every ASCII character and chosen edge cases', { timeout: TIMEOUT }, async () => {
    const ascii = Array.from({ length: 0x80 }, (_, c) => String.fromCharCode(c));
    await roundTripStrings(ascii);
    await roundTripStrings([
      '', "'", "''", "\\'", '\\', '\\\\', "'; SELECT 1; --", "' OR '1'='1", '/* x', 'a\0b\0', '\0' + '1', '\\0', '\\x41',
      '\b\f\r\n\t\v', 'tab\there', 'é日本語', '😀👍🏽👨‍👩‍👧', '\u2028\u2029', '\ufeff\ufffe\uffff', '\u{10ffff}\u{1f600}', 'x'.repeat(5000),
    ]);
  });

  it('property: any well-formed string comes back exactly', { timeout: TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stringArb, { minLength: BATCH, maxLength: BATCH }), roundTripStrings),
      { numRuns: STRING_RUNS, endOnFailure: true },
    );
  });

  it('property: a literal never leaks into the surrounding query', { timeout: TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stringArb, { minLength: BATCH, maxLength: BATCH }), async (values) => {
        // Each value sits between two sentinels; a value that escaped its quotes
        // would change the column count, the sentinels, or fail to parse.
        const cols = join(values.map((s, i) => sql`${'<'} AS ${ident(`l${i}`)}, ${s} AS ${ident(`v${i}`)}, ${'>'} AS ${ident(`r${i}`)}`), ', ');
        const row = await one<Record<string, string>>(sql`SELECT ${cols}`);
        expect(Object.keys(row)).toHaveLength(3 * values.length);
        values.forEach((s, i) => {
          expect([row[`l${i}`], row[`v${i}`], row[`r${i}`]]).toEqual(['<', s, '>']);
        });
      }),
      { numRuns: 10, endOnFailure: true },
    );
  });
});

// --- numbers ----------------------------------------------------------------

/** IEEE-754 bits, little-endian, as ClickHouse's hex(reinterpretAsString(x)) writes them (trailing zero bytes dropped). */
function float64Hex(x: number): string {
  const buf = Buffer.alloc(8);
  buf.writeDoubleLE(x);
  return buf.toString('hex').toUpperCase().replace(/(00)+$/, '');
}

const numberArb = fc.oneof(
  fc.maxSafeInteger(),
  fc.integer(),
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -(2 ** -1000), max: 2 ** -1000 }), // subnormals and the smallest normals
  fc.constantFrom(
    0, -0, 1, -1, 0.1, -0.1, 1 / 3, Number.EPSILON, Number.MIN_VALUE, -Number.MIN_VALUE, 2 ** -1022, -(2 ** -1022),
    2 ** -1022 - Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER,
    2 ** 53, 2 ** 53 + 2, 2 ** 63, -(2 ** 63), 2 ** 64, -(2 ** 64), 1e20, 1e21, -1e21, 1.5e300, 123456789.12345678,
  ),
);

async function roundTripNumbers(values: readonly number[]): Promise<void> {
  const row = await one<{ s: string[]; b: string[] }>(
    sql`SELECT ${array(values, (x) => sql`toString(${x})`)} AS s, ${array(values, (x) => sql`hex(reinterpretAsString(toFloat64(${x})))`)} AS b`,
  );
  // The sign of zero is not kept: ClickHouse 18.16 reads `-0` as Int8 0.
  const expected = values.map((x) => (Object.is(x, -0) ? 0 : x));
  expect(row.s.map(Number)).toEqual(expected);
  // Bit-exact, independent of how the server prints floats.
  expect(row.b).toEqual(expected.map(float64Hex));
}

describe('number literals on ClickHouse', () => {
  it('round-trips chosen edge cases, subnormals included', { timeout: TIMEOUT }, async () => {
    await roundTripNumbers([
      0, -0, 1, -1, 42, -42, 0.5, -0.25, 1e-7, 1e21, -1e21, 1e20, 2 ** 53, 2 ** 63, -(2 ** 63), 2 ** 64,
      Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, Number.MAX_VALUE, -Number.MAX_VALUE,
      2 ** -1022, Number.MIN_VALUE, -Number.MIN_VALUE, 1e-310, -1e-310, 2 ** -1022 - Number.MIN_VALUE,
    ]);
  });

  it('keeps safe integers exact as integers', { timeout: TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.maxSafeInteger(), { minLength: BATCH, maxLength: BATCH }), async (values) => {
        const row = await one<{ s: string[]; ok: number }>(
          sql`SELECT ${array(values, (x) => sql`toString(toInt64(${x}))`)} AS s, 1 AS ok`,
        );
        expect(row.s).toEqual(values.map((x) => (Object.is(x, -0) ? '0' : x.toFixed(0))));
      }),
      { numRuns: 10, endOnFailure: true },
    );
  });

  it('property: any finite double comes back exactly', { timeout: TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(numberArb, { minLength: BATCH, maxLength: BATCH }), roundTripNumbers),
      { numRuns: NUMBER_RUNS, endOnFailure: true },
    );
  });

  it('a negative number after a minus sign stays arithmetic, not a comment', { timeout: TIMEOUT }, async () => {
    const row = await one<{ a: number; b: number }>(sql`SELECT 1 -${-1} AS a, 10 -${-Number.MIN_VALUE} > 10 - 1 AS b`);
    expect(Number(row.a)).toBe(2);
    expect(Number(row.b)).toBe(1);
  });
});

// --- DateTime ---------------------------------------------------------------

describe('DateTime literals on ClickHouse', () => {
  async function roundTripSeconds(seconds: readonly number[], msWithin: (n: number) => number): Promise<void> {
    const row = await one<{ v: string[] }>(
      sql`SELECT ${array(seconds, (n) => sql`toUInt32(${new Date(n * 1000 + msWithin(n))})`)} AS v`,
    );
    expect(row.v.map(Number)).toEqual(seconds);
  }

  it('round-trips the range ends', { timeout: TIMEOUT }, async () => {
    await roundTripSeconds([0, 1, 59, 86_400, 1_700_000_000, 2 ** 31 - 1, 2 ** 31, 4294967294, 4294967295], () => 0);
    await roundTripSeconds([0, 1_700_000_000, 4294967295], () => 999);
  });

  it('property: toUInt32(toDateTime(n)) is n for any n in range, whatever the milliseconds', { timeout: TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 4294967295 }), { minLength: BATCH, maxLength: BATCH }),
        fc.integer({ min: 0, max: 999 }),
        (seconds, ms) => roundTripSeconds(seconds, () => ms),
      ),
      { numRuns: DATE_RUNS, endOnFailure: true },
    );
  });
});
