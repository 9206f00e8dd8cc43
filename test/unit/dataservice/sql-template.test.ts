import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Dialect, TypedValue } from '../../../src/dataservice/bound-sql.js';
import { parseScript, renderScript } from '../../../src/dataservice/sql-template.js';
import { RollgateError } from '../../../src/errors.js';

const CLICKHOUSE_SCRIPT =
  'SELECT ip, max(cpu) AS cpu FROM cpu_mem_5min FINAL WHERE ip = {{ip}} [[AND window_start >= {{from}}]] GROUP BY ip ORDER BY cpu DESC';

const str = (value: string): TypedValue => ({ type: 'STRING', value });
const int = (value: number): TypedValue => ({ type: 'INT', value });

function rejection(sql: string, dialect: Dialect = 'mysql', declared: readonly string[] = ['x', 'y']): RollgateError {
  try {
    parseScript(sql, dialect, declared);
  } catch (err) {
    if (err instanceof RollgateError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(sql)} to be rejected`);
}

/** The rejection's message, after checking it is the script's INVALID_PARAMETER. */
function reason(sql: string, dialect: Dialect = 'mysql', declared: readonly string[] = ['x', 'y']): string {
  const err = rejection(sql, dialect, declared);
  expect({ code: err.code, field: err.field }).toEqual({ code: 'INVALID_PARAMETER', field: 'script' });
  return err.message;
}

describe('parseScript accepts', () => {
  it('ClickHouse SQL in the subset the MySQL grammar reads', () => {
    const t = parseScript(CLICKHOUSE_SCRIPT, 'clickhouse', ['ip', 'from']);
    expect(t).toMatchObject({
      dialect: 'clickhouse',
      params: ['ip', 'from'],
      requiredParams: ['ip'],
      tables: ['cpu_mem_5min'],
      hasOrderBy: true,
      hasLimit: false,
    });
  });

  it('PostgreSQL-style SQL for DuckDB', () => {
    const sql = [
      "SELECT ip, date_trunc('hour', window_start) AS h, max(cpu)::DOUBLE AS cpu",
      'FROM rollgate.Cpu_Mem_5min',
      "WHERE ip ILIKE {{ip}} [[AND window_start >= {{from}}::TIMESTAMP]] AND note <> E'it\\'s'",
      'GROUP BY 1, 2 ORDER BY h NULLS LAST LIMIT 100 OFFSET 5',
    ].join('\n');
    const t = parseScript(sql, 'duckdb', ['ip', 'from']);
    expect(t).toMatchObject({ params: ['ip', 'from'], tables: ['cpu_mem_5min'], hasOrderBy: true, hasLimit: true });
  });

  it('spaces inside the braces, and a parameter used twice', () => {
    const t = parseScript('SELECT a FROM t WHERE a = {{ x }} OR b = {{x}}', 'mysql', ['x']);
    expect(t.params).toEqual(['x']);
    expect(renderScript(t, new Map([['x', int(7)]])).params).toEqual([int(7), int(7)]);
  });

  it('a trailing semicolon', () => {
    expect(parseScript('SELECT a FROM t WHERE a = {{x}};\n', 'mysql', ['x']).params).toEqual(['x']);
  });

  it('placeholders and markers in comments, and markers in strings, as text', () => {
    const sql = "SELECT a FROM t -- [[ see {{y}} ]]\nWHERE b = '[[' /* ]] {{y}} */ AND c = {{x}} # [[\n AND d = \"]]\"";
    const t = parseScript(sql, 'mysql', ['x']);
    expect(t.params).toEqual(['x']);
    expect(renderScript(t, new Map([['x', int(1)]])).parts).toEqual([
      "SELECT a FROM t -- [[ see {{y}} ]]\nWHERE b = '[[' /* ]] {{y}} */ AND c = ",
      ' # [[\n AND d = "]]"',
    ]);
  });

  it('escaped quotes the way each dialect escapes them', () => {
    // MySQL: doubled quotes and backslashes both escape, so {{x}} is outside every string.
    expect(parseScript("SELECT a FROM t WHERE s = 'it''s' AND u = 'a\\'b' AND v = {{x}}", 'mysql', ['x']).params).toEqual(['x']);
    // DuckDB: a backslash is a plain character outside E'…', so this string ends at \'.
    expect(parseScript("SELECT 'a\\' = {{x}}", 'duckdb', ['x']).params).toEqual(['x']);
    expect(parseScript('SELECT "a""b" FROM t WHERE c = {{x}}', 'duckdb', ['x']).params).toEqual(['x']);
    // DuckDB nests block comments.
    expect(parseScript('SELECT a FROM t /* a /* {{y}} */ [[ */ WHERE c = {{x}}', 'duckdb', ['x']).params).toEqual(['x']);
  });

  it('reads tables from joins, subqueries and unions, lower case, unqualified and deduplicated', () => {
    const sql =
      'SELECT a FROM db.T1 JOIN t2 ON T1.id = t2.id WHERE a IN (SELECT a FROM t3 WHERE b = {{x}}) ' +
      'UNION ALL SELECT a FROM t1 [[WHERE c IN (SELECT c FROM other.t4 WHERE d = {{y}})]]';
    expect(parseScript(sql, 'mysql', ['x', 'y']).tables.slice().sort()).toEqual(['t1', 't2', 't3', 't4']);
  });

  it('finds a top-level ORDER BY and LIMIT, not those of subqueries', () => {
    const shape = (sql: string, dialect: Dialect = 'mysql'): [boolean, boolean] => {
      const t = parseScript(sql, dialect, ['x']);
      return [t.hasOrderBy, t.hasLimit];
    };
    expect(shape('SELECT a FROM (SELECT a FROM t ORDER BY a LIMIT 5) s WHERE a = {{x}}')).toEqual([false, false]);
    expect(shape('SELECT a FROM t WHERE a = {{x}} LIMIT 10, 20')).toEqual([false, true]);
    expect(shape('SELECT a FROM t WHERE a = {{x}}', 'duckdb')).toEqual([false, false]);
    expect(shape('SELECT a FROM t WHERE a = {{x}} UNION SELECT b FROM u ORDER BY a LIMIT 3')).toEqual([true, true]);
    expect(shape('SELECT a FROM t WHERE a = {{x}} UNION SELECT b FROM u ORDER BY a LIMIT 3', 'duckdb')).toEqual([true, true]);
    expect(shape('(SELECT a FROM t WHERE a = {{x}}) UNION (SELECT b FROM u) ORDER BY a')).toEqual([true, false]);
    expect(shape('(SELECT a FROM t WHERE a = {{x}} ORDER BY a LIMIT 1) UNION (SELECT b FROM u)')).toEqual([false, false]);
  });

  it('counts ORDER BY only when no clause can drop it, and LIMIT when any clause can keep it', () => {
    const t = parseScript('SELECT a FROM t [[ORDER BY a, {{x}}]] [[LIMIT {{y}}]]', 'mysql', ['x', 'y']);
    expect([t.hasOrderBy, t.hasLimit]).toEqual([false, true]);
  });
});

describe('parseScript rejects, saying where', () => {
  it('a syntax error, in a short message', () => {
    expect(reason('SELECT a FROM t WHERE (a = {{x}}', 'mysql', ['x'])).toBe(
      'syntax error at line 1, column 33: unexpected end of input',
    );
    expect(reason('SELECT a\nFROM t\nWHERE b = = {{x}}', 'mysql', ['x'])).toBe('syntax error at line 3, column 11: unexpected "="');
    expect(reason('SELECT a FROM t WHERE a = {{x}})', 'mysql', ['x'])).toBe('syntax error at line 1, column 32: unexpected ")"');
    expect(reason('SELECT a FROM t WHERE a IN ({{x}}) LIMIT 1 BY a', 'mysql', ['x'])).toBe('syntax error at line 1, column 44: unexpected "BY"');
  });

  it('a syntax error at a parameter, naming it', () => {
    expect(reason('SELECT a FROM t WHERE a = 1 {{x}}', 'mysql', ['x'])).toBe('syntax error at line 1, column 29: unexpected parameter {{x}}');
  });

  it('ClickHouse syntax the MySQL grammar lacks, naming the grammar', () => {
    const message = reason('SELECT count() FROM t WHERE ip = {{x}}', 'clickhouse', ['x']);
    expect(message).toMatch(/^syntax error at line 1, column 14: unexpected "\)"/);
    expect(message).toContain('MySQL grammar');
    expect(reason('SELECT a FROM t WHERE ip = {{x}} SETTINGS max_threads = 1', 'clickhouse', ['x'])).toContain(
      'line 1, column 34: unexpected "SETTINGS"',
    );
  });

  it('SQL that breaks only when the optional clauses are dropped', () => {
    expect(reason('SELECT a FROM t WHERE [[b = {{x}}]]', 'mysql', ['x'])).toBe(
      'syntax error at line 1, column 36 with the optional [[ ]] clauses dropped: unexpected end of input',
    );
  });

  it('an unknown parameter', () => {
    expect(reason('SELECT a FROM t\nWHERE a = {{x}} AND b = {{nope}}')).toBe(
      'unknown parameter {{nope}} at line 2, column 25; declared parameters: x, y',
    );
    expect(reason('SELECT a FROM t WHERE a = {{x}}', 'mysql', [])).toContain('no parameters are declared');
  });

  it('a declared parameter the script does not use', () => {
    expect(reason('SELECT a FROM t WHERE a = {{x}}', 'mysql', ['x', 'y'])).toBe(
      'parameter y is declared but not used in the script',
    );
  });

  it('malformed placeholders', () => {
    expect(reason('SELECT a FROM t WHERE a = {{}}')).toMatch(/^malformed parameter \{\{\}\} at line 1, column 27/);
    expect(reason('SELECT a FROM t WHERE a = {{1x}}')).toMatch(/^malformed parameter \{\{1x\}\} at line 1, column 27/);
    expect(reason('SELECT a FROM t WHERE a = {{x')).toBe('unclosed {{ at line 1, column 27');
    expect(reason(`SELECT a FROM t WHERE a = {{${'a'.repeat(51)}}}`)).toContain('line 1, column 27');
    expect(parseScript(`SELECT a FROM t WHERE a = {{${'a'.repeat(50)}}}`, 'mysql', ['a'.repeat(50)]).params).toHaveLength(1);
  });

  it('nested, unbalanced or parameterless optional clauses', () => {
    expect(reason('SELECT a FROM t WHERE 1 = 1 [[AND a = {{x}} [[AND b = {{y}}]]]]')).toBe(
      'optional clauses cannot be nested: [[ at line 1, column 45 is inside the [[ at line 1, column 29',
    );
    expect(reason('SELECT a FROM t WHERE 1 = 1 [[AND a = {{x}}\nAND b = {{y}}')).toBe('[[ at line 1, column 29 has no matching ]]');
    expect(reason('SELECT a FROM t WHERE 1 = 1 AND a = {{x}}]] AND b = {{y}}')).toBe(']] at line 1, column 42 has no matching [[');
    expect(reason('SELECT a FROM t WHERE a = {{x}} [[AND b = 1]] AND c = {{y}}')).toMatch(
      /^the optional clause at line 1, column 33 has no parameter, so it could never be dropped/,
    );
  });

  it('a parameter inside quotes, whatever the escapes', () => {
    const inQuotes = /^parameters cannot be inside quotes: \{\{x\}\} at line 1, column (\d+); write it as its own value, e\.g\. concat\('%', \{\{x\}\}, '%'\)$/;
    expect(reason("SELECT a FROM t WHERE s LIKE '%{{x}}%'")).toMatch(inQuotes);
    expect(reason("SELECT a FROM t WHERE s LIKE '%{{x}}%'")).toContain('column 32');
    expect(reason("SELECT a FROM t WHERE s = 'it''s {{x}}'")).toContain('column 34');
    expect(reason("SELECT a FROM t WHERE s = 'a\\' {{x}}'")).toMatch(inQuotes);
    expect(reason('SELECT a FROM t WHERE s = "{{ x }}"')).toMatch(/\{\{x\}\} at line 1, column 28/);
    expect(reason('SELECT `{{x}}` FROM t')).toMatch(inQuotes);
    expect(reason("SELECT a FROM t WHERE s = E'\\'{{x}}'", 'duckdb')).toMatch(inQuotes);
    expect(reason('SELECT a FROM t WHERE s = $$ {{x}} $$', 'duckdb')).toMatch(inQuotes);
  });

  it('unclosed quotes and comments', () => {
    expect(reason("SELECT a FROM t WHERE s = 'abc AND b = {{x}}")).toBe("unclosed quote ' at line 1, column 27");
    expect(reason('SELECT a FROM t WHERE b = {{x}} /* note')).toBe('unclosed /* comment at line 1, column 33');
  });

  it('more than one statement', () => {
    expect(reason('SELECT a FROM t WHERE a = {{x}}; DROP TABLE t', 'mysql', ['x'])).toBe(
      'only one statement can be published; another starts at line 1, column 34',
    );
    expect(reason("SELECT ';' FROM t WHERE a = {{x}};\n;\nSELECT 2", 'mysql', ['x'])).toContain('line 3, column 1');
  });

  it.each([
    ['UPDATE t SET a = {{x}}', 'UPDATE'],
    ['DELETE FROM t WHERE a = {{x}}', 'DELETE'],
    ['INSERT INTO t VALUES ({{x}})', 'INSERT'],
    ['  DROP TABLE t -- {{x}}', 'DROP'],
  ])('%s', (sql, type) => {
    const declared = sql.includes('-- {{x}}') ? [] : ['x'];
    expect(reason(sql, 'mysql', declared)).toBe(`only SELECT statements can be published, not ${type} (line 1, column ${sql.indexOf(type) + 1})`);
  });

  it('writes and locks', () => {
    expect(reason("SELECT a FROM t WHERE a = {{x}} INTO OUTFILE '/tmp/x'", 'mysql', ['x'])).toBe(
      'SELECT … INTO cannot be published (line 1, column 33)',
    );
    expect(reason("SELECT a FROM t WHERE a = {{x}} INTO DUMPFILE '/tmp/x'", 'mysql', ['x'])).toContain('INTO cannot be published');
    expect(reason('SELECT a INTO @v FROM t WHERE a = {{x}}', 'mysql', ['x'])).toContain('INTO cannot be published (line 1, column 10)');
    expect(reason("SELECT a FROM t WHERE a = {{x}} UNION SELECT b FROM u INTO OUTFILE 'f'", 'mysql', ['x'])).toContain('INTO');
    expect(reason('SELECT a FROM t WHERE a = {{x}} FOR UPDATE', 'mysql', ['x'])).toBe(
      'locking reads (FOR UPDATE) cannot be published (line 1, column 33)',
    );
    expect(reason('SELECT a FROM t WHERE a = {{x}} LOCK IN SHARE MODE', 'mysql', ['x'])).toContain('LOCK IN SHARE MODE');
    expect(reason('SELECT a FROM t WHERE a IN (SELECT a FROM u FOR UPDATE) AND b = {{x}}', 'mysql', ['x'])).toContain('column 45');
    expect(reason('SELECT a FROM t WHERE a = {{x}} FOR UPDATE', 'duckdb', ['x'])).toMatch(/^syntax error at line 1, column 33: unexpected "FOR"/);
  });

  it('MySQL executable comments, which run as SQL', () => {
    expect(reason("SELECT a FROM t WHERE a = {{x}} /*! INTO OUTFILE '/tmp/x' */", 'mysql', ['x'])).toBe(
      'executable comments /*! … */ are not allowed (line 1, column 33)',
    );
  });

  it('driver placeholders, which would bind nothing', () => {
    expect(reason('SELECT a FROM t WHERE a = ? AND b = {{x}}', 'mysql', ['x'])).toBe('write parameters as {{name}}, not ?… (line 1, column 27)');
    expect(reason('SELECT a FROM t WHERE a = $1 AND b = {{x}}', 'duckdb', ['x'])).toContain('not $1… (line 1, column 27)');
    expect(parseScript("SELECT a FROM t WHERE a = '?' AND b = {{x}} -- ?", 'mysql', ['x']).params).toEqual(['x']);
  });

  it('placeholders and markers that would fuse with the text next to them', () => {
    expect(reason('SELECT a FROM t WHERE a = b{{x}}')).toBe('put a space or an operator around {{x}} at line 1, column 28');
    expect(reason('SELECT a FROM t WHERE a IN ({{x}}{{y}})')).toContain('around {{x}}');
    expect(reason('SELECT a FROM t WHERE a = {{x}}.5 AND b = {{y}}')).toContain('around {{x}}');
    expect(reason('SELECT a FROM t WHERE a = 1[[AND b = {{x}}]] AND c = {{y}}')).toBe('put a space before or after [[ at line 1, column 28');
    expect(reason('SELECT a FROM t WHERE a = {{y}} [[AND b = {{x}}]]AND c = 1')).toBe('put a space before or after ]] at line 1, column 48');
    expect(reason('SELECT a FROM t WHERE a = {{y}} OR b[[ = {{x}} ]]OR c')).toMatch(/^dropping the optional clause at line 1, column 37 would join/);
  });

  it('an empty script', () => {
    expect(reason('  -- nothing\n', 'mysql', [])).toBe('the script is empty');
  });
});

describe('renderScript', () => {
  const template = parseScript(CLICKHOUSE_SCRIPT, 'clickhouse', ['ip', 'from']);
  const from: TypedValue = { type: 'DATETIME', value: new Date('2026-01-01T00:00:00Z') };

  it('keeps a clause whose parameters are all given, without its markers', () => {
    const bound = renderScript(template, new Map([['ip', str('10.0.0.1')], ['from', from]]));
    expect(bound.parts).toEqual([
      'SELECT ip, max(cpu) AS cpu FROM cpu_mem_5min FINAL WHERE ip = ',
      ' AND window_start >= ',
      ' GROUP BY ip ORDER BY cpu DESC',
    ]);
    expect(bound.params).toEqual([str('10.0.0.1'), from]);
  });

  it('drops a clause with a parameter missing, entirely', () => {
    const bound = renderScript(template, new Map([['ip', str('10.0.0.1')]]));
    expect(bound.render(() => '?')).toBe('SELECT ip, max(cpu) AS cpu FROM cpu_mem_5min FINAL WHERE ip = ?  GROUP BY ip ORDER BY cpu DESC');
    expect(bound.params).toEqual([str('10.0.0.1')]);
  });

  it('drops a clause when any one of its parameters is missing', () => {
    const t = parseScript('SELECT a FROM t WHERE 1 = 1 [[AND a BETWEEN {{x}} AND {{y}}]]', 'mysql', ['x', 'y']);
    expect(renderScript(t, new Map([['x', int(1)]])).render(() => '?')).toBe('SELECT a FROM t WHERE 1 = 1 ');
    expect(renderScript(t, new Map([['x', int(1)], ['y', int(2)]])).render(() => '?')).toBe('SELECT a FROM t WHERE 1 = 1 AND a BETWEEN ? AND ?');
  });

  it('fails with MISSING_PARAMETER for a required parameter', () => {
    expect(() => renderScript(template, new Map([['from', from]]))).toThrow(
      expect.objectContaining({ code: 'MISSING_PARAMETER', field: 'ip' }),
    );
  });

  it('never puts a value into the SQL text', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((v) => !CLICKHOUSE_SCRIPT.includes(v)),
        fc.option(fc.string({ minLength: 1 }).filter((v) => !CLICKHOUSE_SCRIPT.includes(v))),
        (ip, maybeFrom) => {
          const values = new Map([['ip', str(ip)]]);
          if (maybeFrom !== null) values.set('from', str(maybeFrom));
          const bound = renderScript(template, values);
          const given = [ip, maybeFrom].filter((v): v is string => v !== null);
          expect(bound.parts.some((part) => given.some((v) => part.includes(v)))).toBe(false);
          expect(bound.params).toEqual(given.map(str));
          // The text depends on which parameters are given, never on their values.
          const other = new Map([...values].map(([k]) => [k, int(0)] as const));
          expect(renderScript(template, other).parts).toEqual(bound.parts);
        },
      ),
    );
  });

  it('renders the source minus markers and dropped clauses, for any mix of clauses and given parameters', () => {
    const condition = fc.record({ optional: fc.boolean(), given: fc.boolean(), value: fc.string() });
    fc.assert(
      fc.property(fc.array(condition, { maxLength: 6 }), (conditions) => {
        const names = conditions.map((_, i) => `p${i}`);
        let sql = 'SELECT a FROM t WHERE 1 = 1';
        let expected = sql;
        const values = new Map<string, TypedValue>();
        const params: TypedValue[] = [];
        conditions.forEach((c, i) => {
          const clause = `AND c${i} = {{p${i}}}`;
          sql += c.optional ? ` [[${clause}]]` : ` ${clause}`;
          const given = c.given || !c.optional;
          expected += ' ' + (given ? `AND c${i} = ?` : '');
          if (given) {
            values.set(`p${i}`, str(c.value));
            params.push(str(c.value));
          }
        });
        const bound = renderScript(parseScript(sql, 'mysql', names), values);
        expect(bound.render(() => '?')).toBe(expected);
        expect(bound.params).toEqual(params);
      }),
    );
  });
});

describe('a final semicolon', () => {
  it('may end the script, but nothing may follow it (an appended LIMIT would land in a comment)', async () => {
    const { parseScript } = await import('../../../src/dataservice/sql-template.js');
    expect(() => parseScript('SELECT a FROM t ORDER BY a;  ', 'mysql', [])).not.toThrow();
    expect(() => parseScript('SELECT a FROM t ORDER BY a; -- note', 'mysql', [])).toThrow(/nothing may follow the final ";"/);
  });
});
