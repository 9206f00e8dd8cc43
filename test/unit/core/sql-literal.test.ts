import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TypedValue } from '../../../src/dataservice/bound-sql.js';
import {
  SqlFormatError,
  SqlFragment,
  formatBigInt,
  formatDate,
  formatDateTime,
  formatNumber,
  formatString,
  formatTypedValue,
  formatValue,
  ident,
  join,
  parseQualifiedName,
  qualified,
  sql,
} from '../../../src/core/sql-literal.js';

// ---------------------------------------------------------------------------
// Reference models of what ClickHouse does with the text (written from its
// Lexer / readQuotedStringWithSQLStyle, independently of the formatter).
// ---------------------------------------------------------------------------

/** The escapes formatString may emit, and what ClickHouse reads them as. */
const UNESCAPE: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  b: '\b',
  f: '\f',
  r: '\r',
  n: '\n',
  t: '\t',
  '0': '\0',
};

function isRawControl(ch: string): boolean {
  const code = ch.codePointAt(0) ?? 0;
  return code < 0x20 || code === 0x7f;
}

/**
 * Inverse of the formatter's escaping: the value ClickHouse reads from a
 * '...' literal. Throws on anything the formatter must never emit: an
 * unescaped quote inside, a raw control character, an unknown escape.
 */
function unescapeLiteral(literal: string): string {
  if (literal.length < 2 || !literal.startsWith("'") || !literal.endsWith("'")) {
    throw new Error(`not quoted: ${JSON.stringify(literal)}`);
  }
  const body = literal.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] as string;
    if (ch === "'") throw new Error(`unescaped quote at ${i}`);
    if (isRawControl(ch)) throw new Error(`raw control character at ${i}`);
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = body[++i];
    if (next === undefined) throw new Error('dangling backslash');
    if (next === 'x') {
      const hex = body.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error(`bad \\x escape at ${i}`);
      out += String.fromCharCode(parseInt(hex, 16));
      i += 2;
      continue;
    }
    const named = UNESCAPE[next];
    if (named === undefined) throw new Error(`unexpected escape \\${next}`);
    out += named;
  }
  return out;
}

/**
 * ClickHouse's lexer for a quoted string token starting at `start`: a backslash
 * skips the next character, `''` is a quote inside the string. Returns the index
 * just past the closing quote, or -1 if the token never ends.
 */
function quotedTokenEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '\\') {
      i += 2;
    } else if (ch === "'") {
      if (text[i + 1] === "'") i += 2;
      else return i + 1;
    } else {
      i += 1;
    }
  }
  return -1;
}

/** The numeric value of formatNumber's output, as ClickHouse evaluates it. */
function evalNumberText(text: string): number {
  const inner = text.startsWith('(') && text.endsWith(')') ? text.slice(1, -1) : text;
  const product = /^(\S+) \* (\S+)$/.exec(inner);
  if (product) return Number(product[1]) * Number(product[2]);
  expect(inner).toMatch(/^-?[0-9][0-9.e+-]*$/);
  return Number(inner);
}

/** Arbitrary UTF-16 code units, so lone surrogates show up too. */
const utf16 = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const adversarial = fc.constantFrom("'", "''", '\\', "\\'", '\\\\', '--', '/*', '*/', ';', '\n', '\r', '\0', '\x00' + '1', '`', '"', '\\x', '\\x41', '\u2028', '😀');
const nastyString = fc.string({ unit: fc.oneof(adversarial, fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 })), maxLength: 30 });
const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }), // every code point, surrogate pairs included (fast-check 4's fullUnicodeString)
  fc.string({ unit: 'binary-ascii' }), // U+0000..U+00FF, control characters included
  utf16,
  nastyString,
);

describe('formatString', () => {
  it.each([
    ['', "''"],
    ['plain', "'plain'"],
    ["it's", "'it\\'s'"],
    ["''", "'\\'\\''"],
    ['back\\slash', "'back\\\\slash'"],
    ["\\'", "'\\\\\\''"],
    ['a\nb\tc\rd', "'a\\nb\\tc\\rd'"],
    ['nul\0', "'nul\\0'"],
    ['\0' + '1', "'\\01'"],
    ['\b\f', "'\\b\\f'"],
    ['\x01\x07\x0b\x1b\x1f', "'\\x01\\x07\\x0b\\x1b\\x1f'"],
    ['del\x7f', "'del\\x7f'"],
    ['\x80\xa0', "'\x80\xa0'"],
    ['é日本語', "'é日本語'"],
    ['😀👍🏽', "'😀👍🏽'"],
    ['\u2028\u2029\ufeff\uffff\u{10ffff}', "'\u2028\u2029\ufeff\uffff\u{10ffff}'"],
    ["'; DROP TABLE t; --", "'\\'; DROP TABLE t; --'"],
    ['/* x */', "'/* x */'"],
  ])('formats %j as %s', (input, expected) => {
    expect(formatString(input)).toBe(expected);
    expect(unescapeLiteral(expected)).toBe(input);
  });

  it.each(['\ud800', 'a\udfffb', '\udc00\ud800', 'x\ud83d'])('rejects the lone surrogate in %j', (input) => {
    expect(() => formatString(input)).toThrow(SqlFormatError);
    expect(() => formatValue(input)).toThrow(SqlFormatError);
  });

  it('property: any well-formed string becomes a quoted literal that unescapes to itself', () => {
    fc.assert(
      fc.property(anyString.filter((s) => s.isWellFormed()), (s) => {
        const lit = formatString(s);
        expect(lit.startsWith("'")).toBe(true);
        expect(lit.endsWith("'")).toBe(true);
        expect(lit.length).toBeGreaterThanOrEqual(2);
        const body = lit.slice(1, -1);
        // No quote or backslash is left once every escape pair is removed.
        expect(body.replace(/\\(x[0-9a-f]{2}|[\\'bfrnt0])/g, '')).not.toMatch(/['\\]/);
        expect([...lit].some(isRawControl)).toBe(false);
        expect(unescapeLiteral(lit)).toBe(s);
        // The lexer sees exactly one token: it ends at the last character.
        expect(quotedTokenEnd(lit, 0)).toBe(lit.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: a string is well-formed exactly when formatString accepts it', () => {
    fc.assert(
      fc.property(utf16, (s) => {
        if (s.isWellFormed()) expect(() => formatString(s)).not.toThrow();
        else expect(() => formatString(s)).toThrow(SqlFormatError);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('formatNumber', () => {
  it.each([
    [0, '0'],
    [1, '1'],
    [42, '42'],
    [-1, '(-1)'],
    [-42, '(-42)'],
    [Number.MAX_SAFE_INTEGER, '9007199254740991'],
    [Number.MIN_SAFE_INTEGER, '(-9007199254740991)'],
    [2 ** 53, '9007199254740992'],
    [0.5, '0.5'],
    [-0.25, '(-0.25)'],
    [0.1, '0.1'],
    [1e-7, '1e-7'],
    [1.5e300, '1.5e+300'],
    [1e20, '100000000000000000000'],
    [1e21, '1e+21'],
    [-1e21, '(-1e+21)'],
    [Number.MAX_VALUE, '1.7976931348623157e+308'],
    [2 ** -1022, '2.2250738585072014e-308'],
    // Subnormals: ClickHouse 18.16 rejects them as literals, so they go as an exact product.
    [Number.MIN_VALUE, '(2.220446049250313e-16 * 2.2250738585072014e-308)'],
    [-Number.MIN_VALUE, '(-2.220446049250313e-16 * 2.2250738585072014e-308)'],
    [-1e-310, '(-0.004494232837155776 * 2.2250738585072014e-308)'],
  ])('formats %s as %s', (input, expected) => {
    expect(formatNumber(input)).toBe(expected);
    expect(formatValue(input)).toBe(expected);
  });

  it('wraps -0 in parentheses and writes it as 0 (ClickHouse 18.16 reads `-0` as Int8 0 anyway)', () => {
    expect(formatNumber(-0)).toBe('(0)');
  });

  it.each([NaN, Infinity, -Infinity])('rejects %s', (input) => {
    expect(() => formatNumber(input)).toThrow(SqlFormatError);
    expect(() => sql`SELECT ${input}`).toThrow(SqlFormatError);
  });

  it('never lets a negative number start a `--` comment', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, max: 0 }), (x) => {
        const text = sql`SELECT 1 -${x}`.text;
        expect(text).not.toContain('--');
      }),
      { numRuns: 1000 },
    );
  });

  it('property: any finite double round-trips through Number() of the unparenthesized text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.maxSafeInteger(), fc.integer()), (x) => {
        const text = formatNumber(x);
        const back = evalNumberText(text);
        // The sign of zero is the one thing not kept (see above).
        expect(back).toBe(Object.is(x, -0) ? 0 : x);
        // ClickHouse 18.16 rejects a subnormal literal (strtod reports ERANGE): none may appear.
        for (const token of text.match(/[0-9][0-9.e+-]*/g) ?? []) {
          const magnitude = Math.abs(Number(token));
          expect(magnitude === 0 || magnitude >= 2 ** -1022, `subnormal literal ${token} in ${text}`).toBe(true);
        }
        if (x < 0 || Object.is(x, -0)) expect(text).toMatch(/^\(.*\)$/);
        else expect(text.startsWith('-')).toBe(false);
      }),
      { numRuns: 5000 },
    );
  });

  it('formats booleans and null', () => {
    expect(formatValue(true)).toBe('1');
    expect(formatValue(false)).toBe('0');
    expect(formatValue(null)).toBe('NULL');
  });
});

describe('formatDateTime', () => {
  it.each([
    [new Date(0), 'toDateTime(0)'],
    [new Date(999), 'toDateTime(0)'],
    [new Date(Date.UTC(2026, 0, 1, 10, 0, 0)), 'toDateTime(1767261600)'],
    [new Date(1_700_000_000_999), 'toDateTime(1700000000)'],
    [new Date(4294967295 * 1000), 'toDateTime(4294967295)'],
    [new Date(4294967295 * 1000 + 999), 'toDateTime(4294967295)'],
  ])('formats %s as %s', (input, expected) => {
    expect(formatDateTime(input)).toBe(expected);
    expect(formatValue(input)).toBe(expected);
  });

  it.each([
    ['before 1970', new Date(-1)],
    ['far before 1970', new Date(Date.UTC(1969, 11, 31))],
    ['after 2106-02-07 06:28:15', new Date(4294967296 * 1000)],
    ['an invalid date', new Date(NaN)],
  ])('rejects %s', (_label, input) => {
    expect(() => formatDateTime(input)).toThrow(SqlFormatError);
  });

  it('property: any in-range date becomes toDateTime(floor(ms / 1000))', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4294967295999 }), (ms) => {
        expect(formatDateTime(new Date(ms))).toBe(`toDateTime(${Math.floor(ms / 1000)})`);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('ident and qualified', () => {
  it.each(['a', 'A', '_', 'window_start', 'cpu_usage_pct', 'x1', '_9', 'SELECT'])('accepts %j', (name) => {
    expect(ident(name).text).toBe(`\`${name}\``);
  });

  it.each(['', 'a`b', '`', 'a b', ' a', 'a.b', '1a', '9', 'a-b', "a'b", 'a\nb', 'é', 'a;', 'a\0'])('rejects %j', (name) => {
    expect(() => ident(name)).toThrow(SqlFormatError);
  });

  it('property: accepts exactly the plain identifiers', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary-ascii' }), fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]*$/)), (name) => {
        if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) expect(ident(name).text).toBe(`\`${name}\``);
        else expect(() => ident(name)).toThrow(SqlFormatError);
      }),
      { numRuns: 2000 },
    );
  });

  it('qualifies a table with its database and checks both parts', () => {
    expect(qualified('db', 'rollup_5m').text).toBe('`db`.`rollup_5m`');
    expect(() => qualified('db.x', 't')).toThrow(SqlFormatError);
    expect(() => qualified('db', 't`; DROP')).toThrow(SqlFormatError);
  });
});

describe('sql tag', () => {
  it('formats interpolated values and passes fragments through', () => {
    const when = new Date(1_700_000_000_000);
    const q = sql`SELECT ${ident('a')} FROM ${qualified('db', 't')} WHERE s = ${"o'k"} AND n = ${-3} AND f = ${true} AND z IS ${null} AND t >= ${when}`;
    expect(q).toBeInstanceOf(SqlFragment);
    expect(q.text).toBe("SELECT `a` FROM `db`.`t` WHERE s = 'o\\'k' AND n = (-3) AND f = 1 AND z IS NULL AND t >= toDateTime(1700000000)");
    expect(String(q)).toBe(q.text);
  });

  it('nests fragments and joins them', () => {
    const conds = join([sql`a = ${1}`, sql`b = ${'x'}`, sql`c = ${2.5}`], ' AND ');
    expect(sql`SELECT 1 WHERE ${conds}`.text).toBe("SELECT 1 WHERE a = 1 AND b = 'x' AND c = 2.5");
    expect(join([], ', ').text).toBe('');
  });

  it('handles templates with no values and values at the edges', () => {
    expect(sql`SELECT 1`.text).toBe('SELECT 1');
    expect(sql`${'a'}`.text).toBe("'a'");
    expect(sql`${1}${2}`.text).toBe('12');
  });

  it('property: an interpolated string can never break out of its literal', () => {
    fc.assert(
      fc.property(anyString, (x) => {
        if (!x.isWellFormed()) {
          expect(() => sql`SELECT ${x}`).toThrow(SqlFormatError);
          return;
        }
        const text = sql`SELECT ${x}`.text;
        const start = 'SELECT '.length;
        expect(text.slice(0, start)).toBe('SELECT ');
        expect(text[start]).toBe("'");
        // The literal token ends at the very end: nothing of the value lies outside it.
        expect(quotedTokenEnd(text, start)).toBe(text.length);
        expect(unescapeLiteral(text.slice(start))).toBe(x);
      }),
      { numRuns: 3000 },
    );
  });

  it('property: a value between two literals keeps all three tokens apart', () => {
    fc.assert(
      fc.property(anyString.filter((s) => s.isWellFormed()), anyString.filter((s) => s.isWellFormed()), (a, b) => {
        const text = sql`SELECT ${a}, ${b}`.text;
        const endA = quotedTokenEnd(text, 'SELECT '.length);
        expect(endA).toBe('SELECT '.length + formatString(a).length);
        expect(text.slice(endA, endA + 2)).toBe(', ');
        expect(quotedTokenEnd(text, endA + 2)).toBe(text.length);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('formatBigInt', () => {
  it.each([
    [0n, '0'],
    [42n, '42'],
    [-1n, '(-1)'],
    [2n ** 53n + 1n, '9007199254740993'],
    [-(2n ** 63n), '(-9223372036854775808)'],
    [2n ** 63n - 1n, '9223372036854775807'],
    [2n ** 64n - 1n, '18446744073709551615'],
  ])('formats %s as %s', (input, expected) => {
    expect(formatBigInt(input)).toBe(expected);
  });

  it.each([2n ** 64n, -(2n ** 63n) - 1n, 10n ** 30n])('rejects %s, outside the 64-bit range', (input) => {
    expect(() => formatBigInt(input)).toThrow(SqlFormatError);
  });

  it('property: any 64-bit integer is written exactly, negatives wrapped', () => {
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })), (x) => {
        const text = formatBigInt(x);
        expect(BigInt(text.replace(/^\((.*)\)$/, '$1'))).toBe(x);
        expect(/^(\d+|\(-\d+\))$/.test(text)).toBe(true);
        expect(sql`SELECT 1 -${new SqlFragment(text)}`.text).not.toContain('--');
      }),
      { numRuns: 1000 },
    );
  });
});

describe('formatDate', () => {
  it.each([
    ['1970-01-01', "toDate('1970-01-01')"],
    ['2024-02-29', "toDate('2024-02-29')"],
    ['2105-12-31', "toDate('2105-12-31')"],
  ])('formats %s', (input, expected) => {
    expect(formatDate(input)).toBe(expected);
  });

  it.each([
    ['not a date', 'yesterday'],
    ['a DATETIME', '2024-01-01 00:00:00'],
    ['one-digit month', '2024-1-01'],
    ['February 30 (18.16 would read 2024-03-01)', '2024-02-30'],
    ['February 29 of a common year', '2023-02-29'],
    ['month 13', '2024-13-01'],
    ['day 0', '2024-01-00'],
    ['before 1970 (18.16 reads 0000-00-00)', '1969-12-31'],
    ['after 2105 (18.16 reads 0000-00-00)', '2106-01-01'],
    ['a quote', "2024-01-01'"],
    ['trailing text', '2024-01-01\n'],
  ])('rejects %s', (_label, input) => {
    expect(() => formatDate(input)).toThrow(SqlFormatError);
  });

  it('property: any day from 1970 to 2105 is accepted as itself', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(2105, 11, 31) / 86_400_000 }), (day) => {
        const text = new Date(day * 86_400_000).toISOString().slice(0, 10);
        expect(formatDate(text)).toBe(`toDate('${text}')`);
      }),
      { numRuns: 500 },
    );
  });
});

describe('formatTypedValue', () => {
  it.each<[TypedValue, string]>([
    [{ type: 'STRING', value: "it's" }, "'it\\'s'"],
    [{ type: 'INT', value: -7 }, '(-7)'],
    [{ type: 'INT', value: 2147483647 }, '2147483647'],
    [{ type: 'DOUBLE', value: 0.5 }, '0.5'],
    [{ type: 'DOUBLE', value: -1e-7 }, '(-1e-7)'],
    [{ type: 'LONG', value: 2n ** 53n + 1n }, '9007199254740993'],
    [{ type: 'LONG', value: -5n }, '(-5)'],
    [{ type: 'BOOLEAN', value: true }, '1'],
    [{ type: 'BOOLEAN', value: false }, '0'],
    [{ type: 'DATE', value: '2024-02-29' }, "toDate('2024-02-29')"],
    [{ type: 'DATETIME', value: new Date(Date.UTC(2026, 0, 1, 10, 0, 0)) }, 'toDateTime(1767261600)'],
  ])('formats %o as %s', (input, expected) => {
    expect(formatTypedValue(input)).toBe(expected);
  });

  it.each<[string, TypedValue]>([
    ['a lone surrogate', { type: 'STRING', value: '\ud800' }],
    ['NaN as INT', { type: 'INT', value: NaN }],
    ['Infinity as DOUBLE', { type: 'DOUBLE', value: Infinity }],
    ['a LONG past UInt64', { type: 'LONG', value: 2n ** 64n }],
    ['an impossible DATE', { type: 'DATE', value: '2024-02-30' }],
    ['a DATETIME before 1970', { type: 'DATETIME', value: new Date(-1000) }],
  ])('rejects %s', (_label, input) => {
    expect(() => formatTypedValue(input)).toThrow(SqlFormatError);
  });

  it('property: a STRING value stays one literal, whatever it holds', () => {
    fc.assert(
      fc.property(anyString.filter((s) => s.isWellFormed()), (value) => {
        const text = formatTypedValue({ type: 'STRING', value });
        expect(quotedTokenEnd(text, 0)).toBe(text.length);
        expect(unescapeLiteral(text)).toBe(value);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('parseQualifiedName', () => {
  it.each([
    ['orders', { database: undefined, table: 'orders' }],
    ['shop.orders', { database: 'shop', table: 'orders' }],
    ['_a1._b2', { database: '_a1', table: '_b2' }],
  ])('reads %j', (input, expected) => {
    expect(parseQualifiedName(input)).toEqual(expected);
  });

  it.each(['', '.', 'a.', '.a', 'a.b.c', 'a b', 'a`b', '`a`', '"a"', "a'", '1a', 'a;DROP', 'a-b', 'é'])('rejects %j', (input) => {
    expect(() => parseQualifiedName(input)).toThrow(SqlFormatError);
  });
});
