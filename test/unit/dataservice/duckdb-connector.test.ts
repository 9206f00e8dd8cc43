import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoundSql, type TypedValue } from '../../../src/dataservice/bound-sql.js';
import type { DataSourceConnector } from '../../../src/dataservice/datasources/connector.js';
import { createConnector } from '../../../src/dataservice/datasources/index.js';
import { RollgateError } from '../../../src/errors.js';
import { expectCode } from '../../helpers/errors.js';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';

const LIMITS = { timeoutMs: 10_000, maxRows: 1000 };
const NASTY = ["it's", "''", 'back\\slash', '\\', "\\'", '100%', '_x_', 'nul\0byte', 'é日本語😀', "'; DROP TABLE t; --", '', 'tab\there\nnewline'];
const BIG = 2n ** 53n + 1n;
const WHEN = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));


/** `prefix <value>` as a BoundSql. */
const where = (prefix: string, value: TypedValue, suffix = '') => BoundSql.text(prefix).append(BoundSql.value(value)).append(suffix);

let instance: DuckDBInstance;
let connector: DataSourceConnector;

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  connector = await createConnector('local', { kind: 'duckdb', path: ':memory:' }, { duckdb: instance });
  const setup = await instance.connect();
  await setup.run(`CREATE TABLE typed (
    id INTEGER, s VARCHAR, i INTEGER, l BIGINT, d DOUBLE, b BOOLEAN, day DATE, ts TIMESTAMP, money DECIMAL(18,4), flag TINYINT, u UBIGINT)`);
  await setup.run(`INSERT INTO typed VALUES
    (1, 'plain', -7, 9007199254740993, 0.5, true, DATE '2024-02-29', TIMESTAMP '2024-01-02 03:04:05', 12345678901234.5678, 1, 18446744073709551615),
    (2, 'other', 7, 9007199254740992, -0.25, false, DATE '1970-01-01', TIMESTAMP '1970-01-01 00:00:00', 0.1, 0, 0)`);
  for (const [i, s] of NASTY.entries()) await setup.run(`INSERT INTO typed (id, s) VALUES (${100 + i}, $1)`, [s]);
  await setup.run('CREATE TABLE empty_one (a INTEGER, b VARCHAR, c TIMESTAMP)');
  setup.closeSync();
});

afterAll(async () => {
  await connector.close();
  instance.closeSync();
});

describe('DuckDB connector: binding', () => {
  it.each(NASTY)('finds the row holding the string %j, and only it', async (s) => {
    const result = await connector.query(where('SELECT id, s FROM typed WHERE s = ', { type: 'STRING', value: s }), LIMITS);
    expect(result.rows).toEqual([{ id: 100 + NASTY.indexOf(s), s }]);
  });

  it.each<[string, TypedValue, number[]]>([
    ['INT', { type: 'INT', value: -7 }, [1]],
    ['LONG past 2^53', { type: 'LONG', value: BIG }, [1]],
    ['LONG 2^53', { type: 'LONG', value: BIG - 1n }, [2]],
    ['DOUBLE', { type: 'DOUBLE', value: -0.25 }, [2]],
    ['BOOLEAN', { type: 'BOOLEAN', value: true }, [1]],
    ['DATE', { type: 'DATE', value: '2024-02-29' }, [1]],
    ['DATETIME', { type: 'DATETIME', value: WHEN }, [1]],
    ['DATETIME at the epoch', { type: 'DATETIME', value: new Date(0) }, [2]],
  ])('binds %s through a WHERE clause', async (_label, value, ids) => {
    const column = { INT: 'i', LONG: 'l', DOUBLE: 'd', BOOLEAN: 'b', DATE: 'day', DATETIME: 'ts', STRING: 's' }[value.type];
    const bound = where(`SELECT id FROM typed WHERE ${column} = `, value, ' ORDER BY id');
    expect((await connector.query(bound, LIMITS)).rows.map((r) => r['id'])).toEqual(ids);
    // display() is runnable SQL that selects the same rows.
    expect((await connector.query(BoundSql.text(connector.display(bound)), LIMITS)).rows.map((r) => r['id'])).toEqual(ids);
  });

  it('returns plain JS values', async () => {
    const { rows } = await connector.query(BoundSql.text('SELECT * FROM typed WHERE id = 1'), LIMITS);
    expect(rows[0]).toEqual({
      id: 1,
      s: 'plain',
      i: -7,
      l: '9007199254740993',
      d: 0.5,
      b: true,
      day: new Date(Date.UTC(2024, 1, 29)),
      ts: WHEN,
      money: '12345678901234.5678',
      flag: 1,
      u: '18446744073709551615',
    });
    const small = await connector.query(BoundSql.text('SELECT l FROM typed WHERE id = 2'), LIMITS);
    expect(small.rows[0]?.['l']).toBe('9007199254740992');
    const safe = await connector.query(BoundSql.text('SELECT 42::BIGINT AS n, NULL AS z'), LIMITS);
    expect(safe.rows[0]).toEqual({ n: 42, z: null });
  });

  it('echoes every typed value back unchanged', async () => {
    const values: TypedValue[] = [
      ...NASTY.map((value): TypedValue => ({ type: 'STRING', value })),
      { type: 'INT', value: 2147483647 },
      { type: 'LONG', value: -(2n ** 63n) },
      { type: 'DOUBLE', value: 1e-300 },
      { type: 'BOOLEAN', value: false },
      { type: 'DATE', value: '1999-12-31' },
      { type: 'DATE', value: '0099-01-01' },
      { type: 'DATETIME', value: new Date(Date.UTC(2030, 5, 6, 7, 8, 9, 123)) },
    ];
    for (const value of values) {
      const { rows } = await connector.query(where('SELECT ', value, ' AS v'), LIMITS);
      const expected =
        value.type === 'LONG' ? value.value.toString() : value.type === 'DATE' ? new Date(`${value.value}T00:00:00.000Z`) : value.value;
      expect(rows[0]?.['v']).toEqual(expected);
      const shown = await connector.query(BoundSql.text(`SELECT ${connector.display(BoundSql.value(value))} AS v`), LIMITS);
      expect(shown.rows[0]?.['v']).toEqual(expected);
    }
  });

  it('displays values as standard SQL literals', () => {
    const bound = BoundSql.join(
      [
        { type: 'STRING', value: "it's \\ 100%" },
        { type: 'INT', value: -3 },
        { type: 'LONG', value: BIG },
        { type: 'BOOLEAN', value: true },
        { type: 'DATE', value: '2024-02-29' },
        { type: 'DATETIME', value: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)) },
      ].map((v) => BoundSql.value(v as TypedValue)),
      ', ',
    );
    expect(connector.display(BoundSql.text('SELECT ').append(bound))).toBe(
      "SELECT 'it''s \\ 100%', (-3), 9007199254740993, TRUE, DATE '2024-02-29', TIMESTAMP '2024-01-02 03:04:05.006'",
    );
  });

  it('refuses an impossible DATE with INVALID_PARAMETER', async () => {
    await expectCode(connector.query(where('SELECT ', { type: 'DATE', value: '2024-02-30' }), LIMITS), 'INVALID_PARAMETER');
    expect(() => connector.display(BoundSql.value({ type: 'DATE', value: 'soon' }))).toThrow(RollgateError);
  });
});

describe('DuckDB connector: results and metadata', () => {
  it('reports columns with native types even for zero rows', async () => {
    const result = await connector.query(BoundSql.text('SELECT a, b, c FROM empty_one'), LIMITS);
    expect(result.rows).toEqual([]);
    expect(result.columns).toEqual([
      { name: 'a', nativeType: 'INTEGER' },
      { name: 'b', nativeType: 'VARCHAR' },
      { name: 'c', nativeType: 'TIMESTAMP' },
    ]);
  });

  it('stops at maxRows', async () => {
    const result = await connector.query(BoundSql.text('SELECT range AS n FROM range(100000)'), { timeoutMs: 10_000, maxRows: 21 });
    expect(result.rows).toHaveLength(21);
    expect(result.rows[20]).toEqual({ n: 20 });
  });

  it('describes a table with parameter types', async () => {
    const info = await connector.describeTable('typed');
    expect(info.readFinal).toBe(false);
    expect(info.columns.map((c) => [c.name, c.nativeType, c.paramType])).toEqual([
      ['id', 'INTEGER', 'INT'],
      ['s', 'VARCHAR', 'STRING'],
      ['i', 'INTEGER', 'INT'],
      ['l', 'BIGINT', 'LONG'],
      ['d', 'DOUBLE', 'DOUBLE'],
      ['b', 'BOOLEAN', 'BOOLEAN'],
      ['day', 'DATE', 'DATE'],
      ['ts', 'TIMESTAMP', 'DATETIME'],
      ['money', 'DECIMAL(18,4)', 'DOUBLE'],
      ['flag', 'TINYINT', 'INT'],
      ['u', 'UBIGINT', 'LONG'],
    ]);
    expect((await connector.describeTable('main.typed')).columns).toHaveLength(11);
  });

  it('answers NOT_FOUND for a missing table and INVALID_PARAMETER for a bad name', async () => {
    const missing = await expectCode(connector.describeTable('nope'), 'NOT_FOUND');
    expect(missing.message).toBe('table nope not found');
    await expectCode(connector.describeTable('other_schema.typed'), 'NOT_FOUND');
    await expectCode(connector.describeTable('typed; DROP TABLE typed'), 'INVALID_PARAMETER');
    await expectCode(connector.describeTable('"typed"'), 'INVALID_PARAMETER');
  });

  it('passes its connectivity test', async () => {
    await expect(connector.test()).resolves.toBeUndefined();
  });
});

describe('DuckDB connector: limits', () => {
  it('stops a slow query with QUERY_TIMEOUT', async () => {
    const started = Date.now();
    const err = await expectCode(
      connector.query(BoundSql.text('SELECT count(*) FROM range(100000000) a, range(100000) b'), { timeoutMs: 500, maxRows: 10 }),
      'QUERY_TIMEOUT',
    );
    expect(err.message).toBe('query exceeded 500 ms');
    expect(Date.now() - started).toBeLessThan(5000);
    // The connector still works afterwards.
    expect((await connector.query(BoundSql.text('SELECT 1 AS one'), LIMITS)).rows).toEqual([{ one: 1 }]);
  });

  it.each([
    ['INSERT', "INSERT INTO typed (id, s) VALUES (999, 'x')"],
    ['UPDATE', "UPDATE typed SET s = 'x'"],
    ['DELETE', 'DELETE FROM typed'],
    ['DROP', 'DROP TABLE typed'],
    ['CREATE', 'CREATE TABLE sneaky AS SELECT 1'],
    ['COPY', "COPY typed TO '/tmp/rollgate-duckdb-connector-test.csv'"],
    ['SET', "SET threads = 1"],
    ['two statements', 'SELECT 1; DROP TABLE typed'],
    ['ATTACH', "ATTACH ':memory:' AS other"],
  ])('refuses %s with DATASOURCE_ERROR and changes nothing', async (_label, statement) => {
    const before = await connector.query(BoundSql.text('SELECT count(*) AS n, sum(hash(s)) AS h FROM typed'), LIMITS);
    const err = await expectCode(connector.query(BoundSql.text(statement), LIMITS), 'DATASOURCE_ERROR');
    expect(err.retriable).toBe(false);
    expect(await connector.query(BoundSql.text('SELECT count(*) AS n, sum(hash(s)) AS h FROM typed'), LIMITS)).toEqual(before);
    await expectCode(connector.describeTable('sneaky'), 'NOT_FOUND');
  });

  it('reports a bad query as DATASOURCE_ERROR, not retriable', async () => {
    const err = await expectCode(connector.query(BoundSql.text('SELECT nope FROM typed'), LIMITS), 'DATASOURCE_ERROR');
    expect(err.retriable).toBe(false);
  });

  it('runs concurrent queries without interference', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        connector.query(where('SELECT range + ', { type: 'INT', value: i }, ' AS n FROM range(3) ORDER BY n'), LIMITS),
      ),
    );
    results.forEach((r, i) => expect(r.rows.map((row) => row['n'])).toEqual([i, i + 1, i + 2]));
  });
});

describe('DuckDB connector: instances', () => {
  it('reads the embedded store through its shared instance, and leaves it open on close', async () => {
    const store = await DuckDbStore.open(':memory:');
    try {
      const writer = await store.database.connect();
      await writer.run('CREATE TABLE rollup_like (n INTEGER)');
      await writer.run('INSERT INTO rollup_like VALUES (1), (2)');
      const builtin = await createConnector('builtin', { kind: 'duckdb', path: ':memory:' }, { duckdb: store.database });
      expect((await builtin.query(BoundSql.text('SELECT sum(n) AS s FROM rollup_like'), LIMITS)).rows).toEqual([{ s: 3 }]);
      await builtin.close();
      await expectCode(builtin.query(BoundSql.text('SELECT 1'), LIMITS), 'DATASOURCE_ERROR');
      // The instance is still usable by its owner.
      expect((await writer.runAndReadAll('SELECT count(*) AS n FROM rollup_like')).getRowObjects()[0]?.['n']).toBe(2n);
      writer.closeSync();
    } finally {
      await store.close();
    }
  });

  it('opens and closes a database of its own from a path', async () => {
    const own = await createConnector('own', { kind: 'duckdb', path: ':memory:' });
    expect(own.dialect).toBe('duckdb');
    expect((await own.query(BoundSql.text('SELECT 1 AS one'), LIMITS)).rows).toEqual([{ one: 1 }]);
    await own.close();
  });

  it('keeps scripts inside the database: no file access from SQL, on its own instance or the embedded store', async () => {
    const own = await createConnector('own', { kind: 'duckdb', path: ':memory:' });
    const store = await DuckDbStore.open(':memory:');
    const embedded = await createConnector('embedded', { kind: 'duckdb', path: ':memory:' }, { duckdb: store.database });
    try {
      for (const c of [own, embedded]) await expectCode(c.query(BoundSql.text("SELECT * FROM read_csv('/etc/hostname')"), LIMITS), 'DATASOURCE_ERROR');
    } finally {
      await own.close();
      await embedded.close();
      await store.close();
    }
  });

  it('fails to open an unusable path with DATASOURCE_ERROR', async () => {
    await expectCode(createConnector('broken', { kind: 'duckdb', path: '/nonexistent-dir/x/y.duckdb' }), 'DATASOURCE_ERROR');
  });
});

describe('DuckDB inside the gateway is bounded', () => {
  it('opens the embedded store with the configured memory limit and threads, and a query over the limit is a client error', async () => {
    const store = await DuckDbStore.open(':memory:', { memoryLimit: '64MB', threads: 1 });
    const bounded = await createConnector('bounded', { kind: 'duckdb', path: ':memory:' }, { duckdb: store.database });
    try {
      const settings = await bounded.query(BoundSql.text("SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t"), LIMITS);
      expect(settings.rows[0]).toEqual({ m: '61.0 MiB', t: 1 });
      // A list of 50M numbers needs ~400 MB: refused by DuckDB's own limit, not by the machine running out.
      const err = await expectCode(bounded.query(BoundSql.text('SELECT length(list(x)) AS n FROM range(50000000) t(x)'), LIMITS), 'QUERY_TOO_COMPLEX');
      expect(err.message).toContain('DUCKDB_MEMORY_LIMIT');
    } finally {
      await bounded.close();
      await store.close();
    }
  });

  it('defaults to 1 GB and 2 threads', async () => {
    const store = await DuckDbStore.open(':memory:');
    const bounded = await createConnector('defaults', { kind: 'duckdb', path: ':memory:' }, { duckdb: store.database });
    try {
      const settings = await bounded.query(BoundSql.text("SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t"), LIMITS);
      expect(settings.rows[0]).toEqual({ m: '953.6 MiB', t: 2 });
    } finally {
      await bounded.close();
      await store.close();
    }
  });
});
