// The ClickHouse and MySQL data source connectors against the real servers
// (ClickHouse 18.16 and MariaDB in CI). Test data is written with each
// server's own client, never with the connector under test.
import { existsSync } from 'node:fs';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoundSql, type TypedValue } from '../../src/dataservice/bound-sql.js';
import { clickhouseParamType } from '../../src/dataservice/datasources/clickhouse-connector.js';
import type { DataSourceConfig, DataSourceConnector } from '../../src/dataservice/datasources/connector.js';
import { createConnector } from '../../src/dataservice/datasources/index.js';
import { mysqlParamType } from '../../src/dataservice/datasources/mysql-connector.js';
import { RollgateError } from '../../src/errors.js';
import { expectCode } from '../helpers/errors.js';
import { uniqueName } from '../helpers/events.js';
import { stackEnv } from '../helpers/stack.js';

const stack = stackEnv();
const LIMITS = { timeoutMs: 20_000, maxRows: 1000 };
const SECRET = 'Sup3r-secret-pa55word';
const NASTY = [
  "it's", '$&$1$$`$\'', "''", 'back\\slash', '\\', "\\'", '100%', '_x_', 'nul\0byte', '\0', 'é日本語😀', "'; DROP TABLE typed; --", '',
  'tab\there\nnewline', '\\x41\\0', '?', '/* x */', '`', '"',
];
const BIG = 2n ** 53n + 1n; // 9007199254740993: a double cannot tell it from 2^53
const WHEN = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
const WHEN_S = WHEN.getTime() / 1000;


/** Nothing of the error, its cause chain or their stacks may contain the password. */
function expectNoSecret(err: RollgateError): void {
  const seen: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    seen.push(String(current), current instanceof Error ? (current.stack ?? '') : '', JSON.stringify(current, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? '');
    current = current instanceof Error ? current.cause : undefined;
  }
  for (const text of seen) expect(text).not.toContain(SECRET);
}

const where = (prefix: string, value: TypedValue, suffix = '') => BoundSql.text(prefix).append(BoundSql.value(value)).append(suffix);
const ids = (rows: Array<Record<string, unknown>>) => rows.map((r) => Number(r['id']));

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What differs between the two servers; the tests below are shared. */
interface Fixture {
  kind: 'clickhouse' | 'mysql';
  connector: () => DataSourceConnector;
  /** Rows of `typed` as (count, checksum), read with the admin client. */
  fingerprint: () => Promise<string>;
  tableExists: (table: string) => Promise<boolean>;
  /** Statements the connector must refuse. */
  writes: Array<[string, string]>;
  slowQuery: (marker: string) => string;
  /** Whether a query whose text contains `marker` still runs on the server. */
  running: (marker: string) => Promise<boolean>;
  manyRows: string;
  unreachable: DataSourceConfig;
  emptyColumns: Array<{ name: string; nativeType: string }>;
  describeTyped: Array<[string, string, string | undefined]>;
}

// ---------------------------------------------------------------------------
// ClickHouse
// ---------------------------------------------------------------------------

const chDatabase = uniqueName('ds_test');
let chAdmin: ClickHouseClient;
let ch: DataSourceConnector;

async function chRows<T>(query: string): Promise<T[]> {
  return (await chAdmin.query({ query, format: 'JSONEachRow' })).json<T>();
}

const clickhouse: Fixture = {
  kind: 'clickhouse',
  connector: () => ch,
  fingerprint: async () => JSON.stringify(await chRows(`SELECT count() AS n, sum(cityHash64(s)) AS h, max(id) AS m FROM ${chDatabase}.typed`)),
  tableExists: async (table) => (await chRows(`EXISTS TABLE ${chDatabase}.${table}`)).some((r) => Number(Object.values(r as object)[0]) === 1),
  writes: [
    ['INSERT … SELECT', 'INSERT INTO typed (id, s) SELECT 999, \'x\''],
    ['DROP TABLE', 'DROP TABLE typed'],
    ['TRUNCATE', 'TRUNCATE TABLE typed'],
    ['CREATE TABLE', 'CREATE TABLE sneaky (a UInt8) ENGINE = Memory'],
    ['ALTER … DELETE', 'ALTER TABLE typed DELETE WHERE 1'],
    ['SET', 'SET readonly = 0'],
    ['a query that lifts readonly', 'SELECT 1 SETTINGS readonly = 0'],
    ['a table function (url)', "SELECT * FROM url('http://127.0.0.1:1/', CSV, 'a String')"],
  ],
  slowQuery: (marker) => `SELECT /* ${marker} */ count() FROM (SELECT number FROM system.numbers LIMIT 100000000000)`,
  running: async (marker) => {
    const half = marker.length >> 1;
    const rows = await chRows<{ n: string }>(
      `SELECT count() AS n FROM system.processes WHERE position(query, concat('${marker.slice(0, half)}', '${marker.slice(half)}')) > 0
       AND query NOT LIKE '%system.processes%'`,
    );
    return Number(rows[0]?.n ?? 0) > 0;
  },
  // Endless without the server-side row limit: result_overflow_mode='break' must end it.
  manyRows: 'SELECT number AS n FROM system.numbers',
  unreachable: { kind: 'clickhouse', url: 'http://127.0.0.1:1', database: 'default', user: 'default', password: SECRET },
  emptyColumns: [
    { name: 'id', nativeType: 'UInt32' },
    { name: 's', nativeType: 'String' },
    { name: 'ts', nativeType: 'DateTime' },
    { name: 'maybe', nativeType: 'Nullable(String)' },
  ],
  describeTyped: [
    ['id', 'UInt32', 'LONG'],
    ['s', 'String', 'STRING'],
    ['i', 'Int32', 'INT'],
    ['l', 'Int64', 'LONG'],
    ['d', 'Float64', 'DOUBLE'],
    ['b', 'UInt8', 'INT'],
    ['day', 'Date', 'DATE'],
    ['ts', 'DateTime', 'DATETIME'],
    ['money', 'Decimal(18, 4)', 'DOUBLE'],
    ['u', 'UInt64', 'LONG'],
    ['maybe', 'Nullable(String)', 'STRING'],
    ['e', "Enum8('a' = 1, 'b' = 2)", 'STRING'],
    ['fs', 'FixedString(3)', 'STRING'],
    ['uu', 'UUID', 'STRING'],
    ['arr', 'Array(UInt8)', undefined],
  ],
};

async function setUpClickHouse(): Promise<void> {
  chAdmin = createClient({ url: stack.CLICKHOUSE_URL, request_timeout: 60_000, clickhouse_settings: {} });
  const run = (query: string) => chAdmin.command({ query });
  await run(`CREATE DATABASE ${chDatabase}`);
  await run(`CREATE TABLE ${chDatabase}.typed (
    id UInt32, s String, i Int32, l Int64, d Float64, b UInt8, day Date, ts DateTime, money Decimal(18, 4), u UInt64,
    maybe Nullable(String), e Enum8('a' = 1, 'b' = 2), fs FixedString(3), uu UUID, arr Array(UInt8)
  ) ENGINE = MergeTree ORDER BY id`);
  // Values written as text by hand here, not by the formatter under test.
  await run(`INSERT INTO ${chDatabase}.typed VALUES
    (1, 'plain', -7, 9007199254740993, 0.5, 1, '2024-02-29', toDateTime(${WHEN_S}), 12345678.1234, 18446744073709551615, NULL, 'a', 'abc', '61f0c404-5cb3-11e7-907b-a6006ad3dba0', [1, 2]),
    (2, 'other', 7, 9007199254740992, -0.25, 0, '1970-01-01', toDateTime(0), 0.1, 0, 'x', 'b', 'xyz', '00000000-0000-0000-0000-000000000000', [])`);
  await chAdmin.insert({
    table: `${chDatabase}.typed`,
    format: 'JSONEachRow',
    values: NASTY.map((s, i) => ({ id: 100 + i, s })),
  });
  await run(`CREATE TABLE ${chDatabase}.versions (k UInt32, v UInt64) ENGINE = ReplacingMergeTree(v) ORDER BY k`);
  await run(`CREATE TABLE ${chDatabase}.summing (k UInt32, n UInt64) ENGINE = SummingMergeTree ORDER BY k`);
  ch = await createConnector('ch-test', { kind: 'clickhouse', url: stack.CLICKHOUSE_URL, database: chDatabase, user: 'default', password: '' });
}

// ---------------------------------------------------------------------------
// MySQL / MariaDB
// ---------------------------------------------------------------------------

const myDatabase = uniqueName('ds_test');
const mysqlUrl = new URL(stack.MYSQL_URL);
const myServer = {
  host: mysqlUrl.hostname,
  port: mysqlUrl.port === '' ? 3306 : Number(mysqlUrl.port),
  user: decodeURIComponent(mysqlUrl.username),
  password: decodeURIComponent(mysqlUrl.password),
};
const outfile = `/tmp/${uniqueName('rollgate_ds_outfile')}.txt`;
let myAdmin: Connection;
let my: DataSourceConnector;

async function myRows(statement: string, values: unknown[] = []): Promise<RowDataPacket[]> {
  const [rows] = await myAdmin.query<RowDataPacket[]>(statement, values);
  return rows;
}

const mysqlFixture: Fixture = {
  kind: 'mysql',
  connector: () => my,
  fingerprint: async () => JSON.stringify(await myRows(`SELECT COUNT(*) AS n, SUM(CRC32(s)) AS h, MAX(id) AS m FROM \`${myDatabase}\`.typed`)),
  tableExists: async (table) =>
    Number((await myRows('SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [myDatabase, table]))[0]?.['n']) === 1,
  writes: [
    ['INSERT', "INSERT INTO typed (id, s) VALUES (999, 'x')"],
    ['UPDATE', "UPDATE typed SET s = 'x'"],
    ['DELETE', 'DELETE FROM typed'],
    ['DROP TABLE (DDL commits a READ ONLY transaction)', 'DROP TABLE typed'],
    ['TRUNCATE', 'TRUNCATE TABLE typed'],
    ['CREATE TABLE', 'CREATE TABLE sneaky (a INT)'],
    ['CREATE TABLE … SELECT', 'CREATE TABLE sneaky AS SELECT 1 AS a'],
    ['a locking read', 'SELECT * FROM typed FOR UPDATE'],
    ['SELECT … INTO OUTFILE', `SELECT * FROM typed INTO OUTFILE '${outfile}'`],
    ['SET SESSION', "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'"],
    ['DELETE … RETURNING', 'DELETE FROM typed WHERE id = 1 RETURNING id'],
    ['two statements', 'SELECT 1; DROP TABLE typed'],
  ],
  slowQuery: (marker) => `SELECT /* ${marker} */ SLEEP(5) AS slept`,
  running: async (marker) => {
    const half = marker.length >> 1;
    const rows = await myRows(
      "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE CONCAT('%', ?, ?, '%') AND INFO NOT LIKE '%PROCESSLIST%'",
      [marker.slice(0, half), marker.slice(half)],
    );
    return Number(rows[0]?.['n'] ?? 0) > 0;
  },
  manyRows: 'WITH RECURSIVE seq (n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < 999) SELECT n FROM seq',
  unreachable: { kind: 'mysql', host: '127.0.0.1', port: 1, database: 'rollgate', user: 'root', password: SECRET },
  emptyColumns: [
    { name: 'id', nativeType: 'int' },
    { name: 's', nativeType: 'varchar' },
    { name: 'ts', nativeType: 'datetime' },
    { name: 'maybe', nativeType: 'varchar' },
  ],
  describeTyped: [
    ['id', 'int(11)', 'INT'],
    ['s', 'varchar(200)', 'STRING'],
    ['i', 'int(11)', 'INT'],
    ['l', 'bigint(20)', 'LONG'],
    ['d', 'double', 'DOUBLE'],
    ['b', 'tinyint(1)', 'BOOLEAN'],
    ['day', 'date', 'DATE'],
    ['ts', 'datetime', 'DATETIME'],
    ['money', 'decimal(20,4)', 'DOUBLE'],
    ['u', 'bigint(20) unsigned', 'LONG'],
    ['maybe', 'varchar(10)', 'STRING'],
    ['e', "enum('a','b')", 'STRING'],
    ['t', 'text', 'STRING'],
    ['stamp', 'timestamp', 'DATETIME'],
    ['small', 'smallint(6)', 'INT'],
    ['bin', 'blob', undefined],
  ],
};

async function setUpMySql(): Promise<void> {
  myAdmin = await mysql.createConnection({ ...myServer, timezone: 'Z', supportBigNumbers: true, bigNumberStrings: true });
  // TIMESTAMP values are read and written in the session's zone: make it UTC, as the connector does.
  await myAdmin.query("SET time_zone = '+00:00'");
  await myAdmin.query(`CREATE DATABASE \`${myDatabase}\` CHARACTER SET utf8mb4`);
  await myAdmin.query(`CREATE TABLE \`${myDatabase}\`.typed (
    id INT, s VARCHAR(200), i INT, l BIGINT, d DOUBLE, b TINYINT(1), day DATE, ts DATETIME, money DECIMAL(20, 4),
    u BIGINT UNSIGNED, maybe VARCHAR(10), e ENUM('a', 'b'), t TEXT, stamp TIMESTAMP NULL DEFAULT NULL, small SMALLINT, bin BLOB
  ) ENGINE = InnoDB`);
  await myAdmin.query(`INSERT INTO \`${myDatabase}\`.typed (id, s, i, l, d, b, day, ts, money, u, maybe, e, stamp) VALUES
    (1, 'plain', -7, 9007199254740993, 0.5, 1, '2024-02-29', '2024-01-02 03:04:05', 12345678901234.5678, 18446744073709551615, NULL, 'a', '2024-01-02 03:04:05'),
    (2, 'other', 7, 9007199254740992, -0.25, 0, '1970-01-01', '1970-01-01 00:00:00', 0.1, 0, 'x', 'b', NULL)`);
  for (const [i, s] of NASTY.entries()) await myAdmin.query(`INSERT INTO \`${myDatabase}\`.typed (id, s) VALUES (?, ?)`, [100 + i, s]);
  my = await createConnector('mysql-test', { kind: 'mysql', ...myServer, database: myDatabase });
}

beforeAll(async () => {
  await Promise.all([setUpClickHouse(), setUpMySql()]);
});

afterAll(async () => {
  await ch?.close();
  await my?.close();
  await chAdmin?.command({ query: `DROP DATABASE IF EXISTS ${chDatabase}` });
  await chAdmin?.close();
  await myAdmin?.query(`DROP DATABASE IF EXISTS \`${myDatabase}\``);
  await myAdmin?.end();
});

// ---------------------------------------------------------------------------
// Shared behaviour
// ---------------------------------------------------------------------------

describe.each([clickhouse, mysqlFixture])('$kind connector', (f) => {
  const c = () => f.connector();

  describe('binding', () => {
    it('finds each awkward string, and only its row', async () => {
      for (const [i, s] of NASTY.entries()) {
        const bound = where('SELECT id, s FROM typed WHERE s = ', { type: 'STRING', value: s });
        const { rows } = await c().query(bound, LIMITS);
        expect(rows.map((r) => [Number(r['id']), r['s']]), JSON.stringify(s)).toEqual([[100 + i, s]]);
        // The displayed SQL, run as plain text, selects the same row.
        const shown = await c().query(BoundSql.text(c().display(bound)), LIMITS);
        expect(ids(shown.rows), c().display(bound)).toEqual([100 + i]);
      }
    });

    it('echoes each awkward string back byte for byte', async () => {
      for (const s of NASTY) {
        const { rows } = await c().query(where('SELECT ', { type: 'STRING', value: s }, ' AS v'), LIMITS);
        expect(rows[0]?.['v'], JSON.stringify(s)).toBe(s);
      }
    });

    it.each<[string, string, TypedValue, number[]]>([
      ['INT', 'i', { type: 'INT', value: -7 }, [1]],
      ['LONG beyond 2^53', 'l', { type: 'LONG', value: BIG }, [1]],
      ['LONG 2^53', 'l', { type: 'LONG', value: BIG - 1n }, [2]],
      ['DOUBLE', 'd', { type: 'DOUBLE', value: -0.25 }, [2]],
      ['BOOLEAN', 'b', { type: 'BOOLEAN', value: true }, [1]],
      ['DATE', 'day', { type: 'DATE', value: '2024-02-29' }, [1]],
      ['DATE at the epoch', 'day', { type: 'DATE', value: '1970-01-01' }, [2]],
      ['DATETIME', 'ts', { type: 'DATETIME', value: WHEN }, [1]],
      ['DATETIME at the epoch', 'ts', { type: 'DATETIME', value: new Date(0) }, [2]],
      ['STRING', 's', { type: 'STRING', value: 'other' }, [2]],
    ])('binds %s through a WHERE clause, and display() runs to the same rows', async (_label, column, value, expected) => {
      const bound = where(`SELECT id FROM typed WHERE id < 100 AND ${column} = `, value, ' ORDER BY id');
      expect(ids((await c().query(bound, LIMITS)).rows)).toEqual(expected);
      expect(ids((await c().query(BoundSql.text(c().display(bound)), LIMITS)).rows)).toEqual(expected);
    });

    it('binds LONG beyond 2^53 in comparisons and echoes it exactly', async () => {
      const above = await c().query(where('SELECT id FROM typed WHERE l > ', { type: 'LONG', value: BIG - 1n }), LIMITS);
      expect(ids(above.rows)).toEqual([1]);
      const { rows } = await c().query(where('SELECT ', { type: 'LONG', value: BIG }, ' AS v'), LIMITS);
      expect(String(rows[0]?.['v'])).toBe(BIG.toString());
    });

    it('binds paging values (LIMIT/OFFSET) as numbers', async () => {
      const text = f.kind === 'clickhouse' ? ['SELECT id FROM typed ORDER BY id LIMIT ', ', ', ''] : ['SELECT id FROM typed ORDER BY id LIMIT ', ' OFFSET ', ''];
      const offset: TypedValue = { type: 'INT', value: 1 };
      const limit: TypedValue = { type: 'INT', value: 2 };
      const bound = new BoundSql(text, f.kind === 'clickhouse' ? [offset, limit] : [limit, offset]);
      expect(ids((await c().query(bound, LIMITS)).rows)).toEqual([2, 100]);
      if (f.kind === 'mysql') {
        const commaForm = new BoundSql(['SELECT id FROM typed ORDER BY id LIMIT ', ', ', ''], [offset, limit]);
        expect(ids((await c().query(commaForm, LIMITS)).rows)).toEqual([2, 100]);
        expect(c().display(bound)).toBe('SELECT id FROM typed ORDER BY id LIMIT 2 OFFSET 1');
      }
    });

    it('keeps concurrent queries apart', async () => {
      const results = await Promise.all(
        NASTY.map((s) => c().query(where('SELECT id FROM typed WHERE s = ', { type: 'STRING', value: s }), LIMITS)),
      );
      results.forEach((r, i) => expect(ids(r.rows)).toEqual([100 + i]));
    });
  });

  describe('results', () => {
    it('returns plain JS values: exact 64-bit integers and decimals, dates as UTC Dates', async () => {
      const { rows } = await c().query(BoundSql.text('SELECT id, s, i, l, d, b, day, ts, money, u, maybe FROM typed WHERE id IN (1, 2) ORDER BY id'), LIMITS);
      const [one, two] = rows;
      expect(one?.['s']).toBe('plain');
      expect(one?.['i']).toBe(-7);
      expect(one?.['l']).toBe('9007199254740993');
      expect(one?.['d']).toBe(0.5);
      expect(Number(one?.['b'])).toBe(1);
      expect(one?.['day']).toEqual(new Date(Date.UTC(2024, 1, 29)));
      expect(one?.['ts']).toEqual(WHEN);
      expect(one?.['u']).toBe('18446744073709551615');
      expect(one?.['maybe']).toBeNull();
      expect(two?.['day']).toEqual(new Date(0));
      expect(two?.['ts']).toEqual(new Date(0));
      // MySQL DECIMAL stays a string; ClickHouse 18.16 can only send Decimal as a JSON number.
      if (f.kind === 'mysql') expect(one?.['money']).toBe('12345678901234.5678');
      else expect(one?.['money']).toBe(12345678.1234);
    });

    it('reports columns with native types even when no row matches', async () => {
      const result = await c().query(BoundSql.text('SELECT id, s, ts, maybe FROM typed WHERE 1 = 0'), LIMITS);
      expect(result.rows).toEqual([]);
      expect(result.columns).toEqual(f.emptyColumns);
    });

    it('returns at most maxRows rows', async () => {
      const result = await c().query(BoundSql.text(f.manyRows), { timeoutMs: 20_000, maxRows: 21 });
      expect(result.rows).toHaveLength(21);
      expect(result.rows.map((r) => Number(r['n']))).toEqual(Array.from({ length: 21 }, (_, i) => i));
    });
  });

  describe('describeTable', () => {
    it('lists columns in order with their parameter types', async () => {
      const info = await c().describeTable('typed');
      expect(info.readFinal).toBe(false);
      expect(info.columns.map((col) => [col.name, col.nativeType, col.paramType])).toEqual(f.describeTyped);
    });

    it('accepts database.table', async () => {
      const database = f.kind === 'clickhouse' ? chDatabase : myDatabase;
      expect((await c().describeTable(`${database}.typed`)).columns).toHaveLength(f.describeTyped.length);
    });

    it('answers NOT_FOUND for a missing table and INVALID_PARAMETER for a bad name', async () => {
      const err = await expectCode(c().describeTable('missing_table'), 'NOT_FOUND');
      expect(err.message).toBe('table missing_table not found');
      await expectCode(c().describeTable('no_such_db_zz.typed'), 'NOT_FOUND');
      for (const bad of ['typed; DROP TABLE typed', '`typed`', "typed'", 'a.b.c', '']) {
        await expectCode(c().describeTable(bad), 'INVALID_PARAMETER');
      }
    });
  });

  describe('limits', () => {
    it('stops a slow query with QUERY_TIMEOUT and kills it on the server', async () => {
      const marker = uniqueName('slow_marker');
      const started = Date.now();
      const err = await expectCode(c().query(BoundSql.text(f.slowQuery(marker)), { timeoutMs: 500, maxRows: 10 }), 'QUERY_TIMEOUT');
      expect(err.message).toBe('query exceeded 500 ms');
      expect(Date.now() - started).toBeLessThan(3000);
      await eventually(async () => !(await f.running(marker)), 5000);
      // The connector is still usable.
      expect(ids((await c().query(BoundSql.text('SELECT id FROM typed WHERE id = 1'), LIMITS)).rows)).toEqual([1]);
    });

    it.each(f.writes)('refuses %s with DATASOURCE_ERROR and changes nothing', async (_label, statement) => {
      const before = await f.fingerprint();
      const err = await expectCode(c().query(BoundSql.text(statement), LIMITS), 'DATASOURCE_ERROR');
      expect(err.retriable).toBe(false);
      expect(await f.fingerprint()).toBe(before);
      expect(await f.tableExists('typed')).toBe(true);
      expect(await f.tableExists('sneaky')).toBe(false);
      expect(existsSync(outfile)).toBe(false);
      // Session state cannot leak into the next query on a pooled connection.
      const { rows } = await c().query(where('SELECT ', { type: 'STRING', value: "a\\'b" }, ' AS v'), LIMITS);
      expect(rows[0]?.['v']).toBe("a\\'b");
    });

    it('reports a query the server rejects as DATASOURCE_ERROR, not retriable', async () => {
      const err = await expectCode(c().query(BoundSql.text('SELECT no_such_column FROM typed'), LIMITS), 'DATASOURCE_ERROR');
      expect(err.retriable).toBe(false);
    });
  });

  describe('connectivity', () => {
    it('passes its connectivity test', async () => {
      await expect(c().test()).resolves.toBeUndefined();
    });

    it('reports an unreachable server as retriable DATASOURCE_ERROR without the password', async () => {
      const down = await createConnector('down', f.unreachable);
      try {
        const queried = await expectCode(down.query(BoundSql.text('SELECT 1'), LIMITS), 'DATASOURCE_ERROR');
        expect(queried.retriable).toBe(true);
        expectNoSecret(queried);
        const tested = await expectCode(down.test(), 'DATASOURCE_ERROR');
        expect(tested.retriable).toBe(true);
        expectNoSecret(tested);
        expectNoSecret(await expectCode(down.describeTable('typed'), 'DATASOURCE_ERROR'));
      } finally {
        await down.close();
      }
    });
  });
});

// ---------------------------------------------------------------------------
// Per server
// ---------------------------------------------------------------------------

describe('clickhouse connector specifics', () => {
  it('marks merging engines readFinal', async () => {
    expect((await ch.describeTable('versions')).readFinal).toBe(true);
    expect((await ch.describeTable('summing')).readFinal).toBe(true);
    expect((await ch.describeTable(`${chDatabase}.versions`)).columns.map((c) => c.name)).toEqual(['k', 'v']);
  });

  it('displays exactly the text it sends, with audited literals', () => {
    const bound = new BoundSql(
      ['SELECT ', ', ', ', ', ', ', ', ', ', ', ''],
      [
        { type: 'STRING', value: "it's\\" },
        { type: 'INT', value: -3 },
        { type: 'LONG', value: BIG },
        { type: 'BOOLEAN', value: true },
        { type: 'DATE', value: '2024-02-29' },
        { type: 'DATETIME', value: WHEN },
      ],
    );
    expect(ch.display(bound)).toBe(`SELECT 'it\\'s\\\\', (-3), 9007199254740993, 1, toDate('2024-02-29'), toDateTime(${WHEN_S})`);
  });

  it('refuses a value ClickHouse cannot hold with INVALID_PARAMETER', async () => {
    await expectCode(ch.query(where('SELECT ', { type: 'DATE', value: '2024-02-30' }), LIMITS), 'INVALID_PARAMETER');
    await expectCode(ch.query(where('SELECT ', { type: 'LONG', value: 2n ** 64n }), LIMITS), 'INVALID_PARAMETER');
  });

  it('reads DateTime in the column time zone or the server one', async () => {
    const { rows } = await ch.query(BoundSql.text("SELECT toDateTime(1700000000, 'Asia/Shanghai') AS sh, toDateTime(1700000000, 'America/New_York') AS ny, toDateTime(1700000000) AS here"), LIMITS);
    expect(rows[0]).toEqual({ sh: new Date(1700000000000), ny: new Date(1700000000000), here: new Date(1700000000000) });
    expect(typeof (await (ch as unknown as { serverTimezone(): Promise<string> }).serverTimezone())).toBe('string');
  });

  it('queues queries beyond its 10 connections and answers every one, after timeouts too', async () => {
    await Promise.all(Array.from({ length: 3 }, (_, i) => expectCode(ch.query(BoundSql.text(clickhouse.slowQuery(`queue-${i}`)), { timeoutMs: 300, maxRows: 10 }), 'QUERY_TIMEOUT')));
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => ch.query(where('SELECT ', { type: 'INT', value: i }, ' + 0 AS n'), LIMITS)));
    expect(results.map((r) => Number(r.rows[0]?.['n']))).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('reports a wrong password as DATASOURCE_ERROR without the password, not retriable', async () => {
    const wrong = await createConnector('wrong', { kind: 'clickhouse', url: stack.CLICKHOUSE_URL, database: chDatabase, user: 'default', password: SECRET });
    try {
      const err = await expectCode(wrong.query(BoundSql.text('SELECT 1'), LIMITS), 'DATASOURCE_ERROR');
      expect(err.retriable).toBe(false);
      expectNoSecret(err);
    } finally {
      await wrong.close();
    }
  });

  it('maps native types to parameter types, unwrapping Nullable and LowCardinality', () => {
    expect(clickhouseParamType('LowCardinality(Nullable(String))')).toBe('STRING');
    expect(clickhouseParamType('Nullable(DateTime)')).toBe('DATETIME');
    expect(clickhouseParamType("DateTime('Asia/Shanghai')")).toBe('DATETIME');
    expect(clickhouseParamType('Int8')).toBe('INT');
    expect(clickhouseParamType('UInt16')).toBe('INT');
    expect(clickhouseParamType('UInt32')).toBe('LONG');
    expect(clickhouseParamType('Decimal64(2)')).toBe('DOUBLE');
    expect(clickhouseParamType('Float32')).toBe('DOUBLE');
    expect(clickhouseParamType("Enum16('x' = 1)")).toBe('STRING');
    expect(clickhouseParamType('Array(String)')).toBeUndefined();
    expect(clickhouseParamType('DateTime64(3)')).toBeUndefined();
  });
});

describe('mysql connector specifics', () => {
  it('refuses an impossible DATE with INVALID_PARAMETER rather than matching nothing', async () => {
    await expectCode(my.query(where('SELECT ', { type: 'DATE', value: '2024-02-30' }), LIMITS), 'INVALID_PARAMETER');
    expect(() => my.display(where('SELECT ', { type: 'DATE', value: '2024-13-01' }))).toThrow(RollgateError);
  });

  it('displays values the way mysql2 escapes them', () => {
    const bound = new BoundSql(
      ['SELECT ', ', ', ', ', ', ', ', ', ', ', ''],
      [
        { type: 'STRING', value: "it's\\" },
        { type: 'INT', value: -3 },
        { type: 'LONG', value: BIG },
        { type: 'BOOLEAN', value: true },
        { type: 'DATE', value: '2024-02-29' },
        { type: 'DATETIME', value: WHEN },
      ],
    );
    expect(my.display(bound)).toBe(
      "SELECT 'it\\'s\\\\', -3, CAST('9007199254740993' AS SIGNED), true, '2024-02-29', '2024-01-02 03:04:05.000'",
    );
  });

  it('reads TIMESTAMP as UTC whatever the server zone', async () => {
    const { rows } = await my.query(BoundSql.text('SELECT stamp FROM typed WHERE id = 1'), LIMITS);
    expect(rows[0]?.['stamp']).toEqual(WHEN);
  });

  it('releases connections: more queries than the pool has connections, after timeouts too', async () => {
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => my.query(where('SELECT ', { type: 'INT', value: i }, ' + 0 AS n'), LIMITS)));
    expect(results.map((r) => Number(r.rows[0]?.['n']))).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('reports a wrong password as DATASOURCE_ERROR without the password, not retriable', async () => {
    const wrong = await createConnector('wrong', { kind: 'mysql', ...myServer, user: 'rollgate_no_such_user', password: SECRET, database: myDatabase });
    try {
      const err = await expectCode(wrong.query(BoundSql.text('SELECT 1'), LIMITS), 'DATASOURCE_ERROR');
      expect(err.retriable).toBe(false);
      expectNoSecret(err);
    } finally {
      await wrong.close();
    }
  });

  it('maps column types to parameter types', () => {
    expect(mysqlParamType('tinyint', 'tinyint(1)')).toBe('BOOLEAN');
    expect(mysqlParamType('tinyint', 'tinyint(4)')).toBe('INT');
    expect(mysqlParamType('int', 'int(10) unsigned')).toBe('LONG');
    expect(mysqlParamType('mediumint', 'mediumint(9)')).toBe('INT');
    expect(mysqlParamType('float', 'float')).toBe('DOUBLE');
    expect(mysqlParamType('char', 'char(3)')).toBe('STRING');
    expect(mysqlParamType('longtext', 'longtext')).toBe('STRING');
    expect(mysqlParamType('json', 'json')).toBeUndefined();
    expect(mysqlParamType('time', 'time')).toBeUndefined();
  });
});
