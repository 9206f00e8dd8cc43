import { createClient } from '@clickhouse/client';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../helpers/events.js';
import { adminHeaders, appHeaders, stackGateway } from '../helpers/gateway.js';
import { stackEnv } from '../helpers/stack.js';
import { bindRequest } from '../../src/dataservice/bind-request.js';
import type { TypedValue } from '../../src/dataservice/bound-sql.js';
import { ApiDefinitionSchema } from '../../src/dataservice/definition.js';

/**
 * Hostile values through every parameter type and operator of a wizard API,
 * on the real ClickHouse and MySQL. Every answer must be a 200 with exactly
 * the rows the intended read selects, or a 400 naming the parameter; never a
 * 5xx. The tables and a canary table must be untouched afterwards.
 *
 * The oracles take the values as the binder typed them (that parsing has its
 * own unit tests) and are independent of rollgate's SQL compiler and
 * connectors: for ClickHouse, the predicate evaluated in JS over the rows
 * inserted; for MySQL, MySQL itself with the driver's own binding.
 */
const stack = stackEnv();
const database = uniqueName('ds_fuzz').replace(/[^A-Za-z0-9_]/g, '_');
const mysqlBase = new URL(stack.MYSQL_URL);
const ch = createClient({ url: stack.CLICKHOUSE_URL });
let my: mysql.Connection;
let app: FastifyInstance;

const TRICKY = ['', ' ', 'a', 'A', 'ab', 'ab ', "o'brien", 'back\\slash', '50%', 'under_score', '%', '_', '\\', "'", '"', '`', ';', '--', '/*', 'ümlaut', '漢字', '😀', 'line\nbreak', 'tab\there', "' OR '1'='1"];
interface Row {
  id: number;
  s: string;
  i: number;
  l: bigint;
  d: number;
  b: boolean;
  dt: string;
  ts: number;
}
const ROWS: Row[] = TRICKY.map((s, k) => ({
  id: k + 1,
  s,
  i: (k * 7919) % 2001 - 1000,
  l: BigInt(k) * 1_000_000_000_007n - 9_000_000_000_000_000n,
  d: k % 5 === 0 ? 0.1 * k : k / 3,
  b: k % 2 === 0,
  dt: `2026-11-${String((k % 28) + 1).padStart(2, '0')}`,
  ts: Date.UTC(2026, 10, 20) / 1000 + k * 3671,
}));

type Op = '=' | '!=' | '>' | '>=' | '<' | '<=' | 'in' | 'like' | 'prefix' | 'between';
const PARAMS: Array<{ name: string; column: keyof Row; type: string; operator: Op }> = [];
const add = (column: keyof Row, type: string, ops: Op[]) => {
  for (const operator of ops) {
    const suffix = { '=': 'eq', '!=': 'ne', '>': 'gt', '>=': 'ge', '<': 'lt', '<=': 'le', in: 'in', like: 'like', prefix: 'prefix', between: 'between' }[operator];
    PARAMS.push({ name: `${column}_${suffix}`, column, type, operator });
  }
};
add('s', 'STRING', ['=', '!=', 'in', 'like', 'prefix', '>', 'between']);
add('i', 'INT', ['=', '!=', '>', '<=', 'in', 'between']);
add('l', 'LONG', ['=', '>=', 'in', 'between']);
add('d', 'DOUBLE', ['=', '<', '>=', 'between']);
add('b', 'BOOLEAN', ['=', '!=']);
add('dt', 'DATE', ['=', '>=', 'between']);
add('ts', 'DATETIME', ['>=', '<', 'between']);

const definition = (store: 'ch' | 'my') => ({
  mode: 'wizard',
  name: `fuzz_${store}`,
  path: `/fuzz/${store}`,
  method: 'POST',
  dataSource: `fuzz_${store}`,
  table: 'fuzz',
  pagination: false,
  requestParams: PARAMS,
  responseParams: [{ column: 'id', type: 'LONG' }],
  sort: [{ column: 'id', order: 'ASC' }],
});

// ---- oracles over the values as the binder typed them (parsing is unit-tested on its own)

const typedValues = (store: 'ch' | 'my', params: Record<string, unknown>) =>
  bindRequest(ApiDefinitionSchema.parse(definition(store)), { query: {}, body: params }, store === 'ch' ? 'clickhouse' : 'mysql', {
    defaultPageSize: 50,
    maxPageSize: 2000,
  }).values;

const bytes = (s: string) => Buffer.from(s, 'utf8');

/** ClickHouse semantics: strings compare byte-wise; DateTime holds whole seconds, so a value's milliseconds are dropped. */
function chCell(row: Row, column: keyof Row): string | number | bigint {
  const cell = row[column];
  return typeof cell === 'boolean' ? Number(cell) : cell;
}
function chValue(v: TypedValue): string | number | bigint {
  if (v.type === 'DATETIME') return Math.floor(v.value.getTime() / 1000);
  if (v.type === 'BOOLEAN') return Number(v.value);
  return v.value;
}
function compareCh(a: string | number | bigint, b: string | number | bigint): number {
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(bytes(a), bytes(b));
  return a < b ? -1 : a > b ? 1 : 0;
}
function chOracle(params: Record<string, unknown>): number[] {
  const values = typedValues('ch', params);
  return ROWS.filter((row) =>
    [...values].every(([name, bound]) => {
      const p = PARAMS.find((x) => x.name === name)!;
      const cell = chCell(row, p.column);
      const list = (bound.kind === 'list' ? bound.values : [bound.value]).map(chValue);
      const one = list[0]!;
      switch (p.operator) {
        case '=':
          return compareCh(cell, one) === 0;
        case '!=':
          return compareCh(cell, one) !== 0;
        case '>':
          return compareCh(cell, one) > 0;
        case '>=':
          return compareCh(cell, one) >= 0;
        case '<':
          return compareCh(cell, one) < 0;
        case '<=':
          return compareCh(cell, one) <= 0;
        case 'in':
          return list.some((v) => compareCh(cell, v) === 0);
        case 'between':
          return compareCh(cell, list[0]!) >= 0 && compareCh(cell, list[1]!) <= 0;
        case 'like':
          return bytes(String(cell)).includes(bytes(String(one)));
        case 'prefix':
          return bytes(String(cell)).subarray(0, bytes(String(one)).length).equals(bytes(String(one)));
      }
    }),
  ).map((r) => r.id);
}

/** MySQL's own evaluation, values bound by the driver; contains/starts-with through LOCATE, which has no wildcards. */
async function myOracle(params: Record<string, unknown>): Promise<number[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  for (const [name, bound] of typedValues('my', params)) {
    const p = PARAMS.find((x) => x.name === name)!;
    const plain = (v: TypedValue) =>
      v.type === 'DATETIME' ? v.value.toISOString().slice(0, 23).replace('T', ' ') : v.type === 'LONG' ? v.value.toString() : v.type === 'BOOLEAN' ? Number(v.value) : v.value;
    const list = (bound.kind === 'list' ? bound.values : [bound.value]).map(plain);
    const col = `\`${p.column}\``;
    switch (p.operator) {
      case 'in':
        where.push(`${col} IN (${list.map(() => '?').join(', ')})`);
        args.push(...list);
        break;
      case 'between':
        where.push(`${col} BETWEEN ? AND ?`);
        args.push(list[0], list[1]);
        break;
      case 'like':
        where.push(`LOCATE(?, ${col}) > 0`);
        args.push(list[0]);
        break;
      case 'prefix':
        where.push(`LOCATE(?, ${col}) = 1`);
        args.push(list[0]);
        break;
      default:
        where.push(`${col} ${p.operator} ?`);
        args.push(list[0]);
    }
  }
  const [rows] = await my.query<mysql.RowDataPacket[]>(
    `SELECT id FROM \`${database}\`.fuzz${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`} ORDER BY id`,
    args,
  );
  return rows.map((r) => Number(r['id']));
}

// ---- hostile values

const INJECTIONS = [
  "' OR '1'='1",
  "'; DROP TABLE fuzz; --",
  "\\'; DROP TABLE canary; --",
  '1 OR 1=1',
  '1; DELETE FROM fuzz',
  "' UNION SELECT name FROM system.tables --",
  "') OR ('a'='a",
  "' or sleep(3) or '",
  '0x41',
  '1e309',
  '-0',
  'NaN',
  'Infinity',
  '9223372036854775808',
  '-9223372036854775809',
  '2147483648',
  '{{s_eq}}',
  '[[',
  ']]',
  '%',
  '_',
  '\\',
  '\\%',
  '\u0000',
  'NULL',
  'null',
  'true',
  '2026-02-30',
  '2026-11-20T00:00:00Z',
  '2026-11-20 01:01:11',
  '1795651200000',
  '/* */',
  '`fuzz`',
  ' 42 ',
  '1,2',
  ',',
];
const hostileScalar = fc.oneof(
  fc.constantFrom(...INJECTIONS),
  fc.constantFrom(...TRICKY),
  fc.string({ unit: fc.constantFrom("'", '"', '\\', '%', '_', ';', '-', '/', '*', '\0', '\n', ' ', 'a', '`', '(', ')', ',', '0', '1', 'e', '.', ':', 'T', 'Z') , maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 16 }),
  fc.integer().map(String),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String),
  fc.double().map(String),
  fc.integer({ min: 0, max: 4_000_000_000_000 }).map((ms) => new Date(ms).toISOString()),
  fc.date({ min: new Date('1900-01-01'), max: new Date('2300-01-01'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
);
const hostileValue = fc.oneof(
  { weight: 4, arbitrary: hostileScalar },
  { weight: 1, arbitrary: fc.array(hostileScalar, { minLength: 0, maxLength: 4 }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean()) },
);
const hostileRequest = fc.dictionary(fc.constantFrom(...PARAMS.map((p) => p.name)), hostileValue, { minKeys: 1, maxKeys: 3 });

async function countRows(): Promise<{ ch: number; chCanary: number; my: number; myCanary: number; chTables: string }> {
  const chCount = async (table: string) =>
    Number(((await (await ch.query({ query: `SELECT count() AS n FROM ${database}.${table}`, format: 'JSONEachRow' })).json()) as Array<{ n: string }>)[0]!.n);
  const chTables = ((await (await ch.query({ query: `SELECT name FROM system.tables WHERE database = '${database}' ORDER BY name`, format: 'JSONEachRow' })).json()) as Array<{ name: string }>)
    .map((t) => t.name)
    .join(',');
  const myCount = async (table: string) => Number((await my.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${database}\`.${table}`))[0][0]!['n']);
  return { ch: await chCount('fuzz'), chCanary: await chCount('canary'), my: await myCount('fuzz'), myCanary: await myCount('canary'), chTables };
}

beforeAll(async () => {
  await ch.command({ query: `CREATE DATABASE ${database}` });
  await ch.command({
    query: `CREATE TABLE ${database}.fuzz (id UInt32, s String, i Int32, l Int64, d Float64, b UInt8, dt Date, ts DateTime) ENGINE = MergeTree() ORDER BY id`,
  });
  await ch.command({ query: `CREATE TABLE ${database}.canary (x UInt8) ENGINE = MergeTree() ORDER BY x` });
  await ch.insert({
    table: `${database}.fuzz`,
    values: ROWS.map((r) => ({ ...r, l: r.l.toString(), b: r.b ? 1 : 0 })),
    format: 'JSONEachRow',
  });
  await ch.insert({ table: `${database}.canary`, values: [{ x: 1 }], format: 'JSONEachRow' });

  my = await mysql.createConnection({ host: mysqlBase.hostname, port: Number(mysqlBase.port || 3306), user: decodeURIComponent(mysqlBase.username), supportBigNumbers: true, bigNumberStrings: true, timezone: 'Z' });
  await my.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  await my.query(
    `CREATE TABLE \`${database}\`.fuzz (id INT PRIMARY KEY, s VARCHAR(255) COLLATE utf8mb4_bin NOT NULL, i INT NOT NULL, l BIGINT NOT NULL,
     d DOUBLE NOT NULL, b TINYINT(1) NOT NULL, dt DATE NOT NULL, ts DATETIME(3) NOT NULL)`,
  );
  await my.query(`CREATE TABLE \`${database}\`.canary (x INT)`);
  await my.query(`INSERT INTO \`${database}\`.canary VALUES (1)`);
  await my.query(`INSERT INTO \`${database}\`.fuzz VALUES ?`, [
    ROWS.map((r) => [r.id, r.s, r.i, r.l.toString(), r.d, r.b ? 1 : 0, r.dt, new Date(r.ts * 1000).toISOString().slice(0, 19).replace('T', ' ')]),
  ]);

  // The catalog lives in this run's own MySQL database, so names never clash with earlier runs.
  ({ app } = await stackGateway({ CLICKHOUSE_URL: stack.CLICKHOUSE_URL, MYSQL_URL: `${stack.MYSQL_URL.replace(/\/[^/]*$/, '')}/${database}`, CACHE_TTL_MS: '0' }));
  for (const source of [
    { name: 'fuzz_ch', kind: 'clickhouse', url: stack.CLICKHOUSE_URL, database },
    { name: 'fuzz_my', kind: 'mysql', host: mysqlBase.hostname, port: Number(mysqlBase.port || 3306), user: decodeURIComponent(mysqlBase.username), database },
  ]) {
    expect((await app.inject({ method: 'POST', url: '/admin/datasources', headers: adminHeaders, payload: source })).statusCode).toBe(201);
  }
  for (const store of ['ch', 'my'] as const) {
    const created = await app.inject({ method: 'POST', url: '/admin/apis', headers: adminHeaders, payload: definition(store) });
    expect(created.statusCode, created.body).toBe(201);
    const published = await app.inject({ method: 'POST', url: `/admin/apis/${created.json().data.id}/publish`, headers: adminHeaders });
    expect(published.statusCode, published.body).toBe(200);
  }
});

afterAll(async () => {
  await app?.close();
  await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  await ch.close();
  await my?.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await my?.end();
});

describe.each([
  ['ClickHouse', 'ch' as const],
  ['MySQL', 'my' as const],
])('hostile parameters on %s', (_name, store) => {
  it('answer 200 with exactly the intended rows, or 400 naming a parameter; never 5xx', async () => {
    const before = await countRows();
    let accepted = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(hostileRequest, async (params) => {
        const res = await app.inject({ method: 'POST', headers: appHeaders, url: `/api/fuzz/${store}`, payload: params });
        const body = res.json();
        if (res.statusCode === 400) {
          rejected += 1;
          expect([1400, 1410]).toContain(body.errCode);
          expect(Object.keys(params).some((name) => body.errMsg.includes(name))).toBe(true);
          return;
        }
        expect(res.statusCode, `${res.body} for ${JSON.stringify(params)}`).toBe(200);
        accepted += 1;
        const ids = body.data.rows.map((r: { id: number }) => r.id);
        const expected = store === 'ch' ? chOracle(params) : await myOracle(params);
        expect(ids, JSON.stringify(params)).toEqual(expected);
      }),
      { numRuns: 1500, seed: store === 'ch' ? 101 : 202 },
    );
    expect(await countRows()).toEqual(before);
    // Both outcomes must really occur, or the property above proves little.
    expect(accepted).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(100);
  });

  it('treat query-string values the same way', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom(...PARAMS.map((p) => p.name)), fc.oneof(fc.constantFrom(...INJECTIONS), fc.string({ maxLength: 12 })), { minKeys: 1, maxKeys: 2 }), async (params) => {
        const res = await app.inject({ method: 'POST', headers: appHeaders, url: `/api/fuzz/${store}`, query: params });
        expect([200, 400], res.body).toContain(res.statusCode);
        if (res.statusCode === 200) {
          const expected = store === 'ch' ? chOracle(params) : await myOracle(params);
          expect(res.json().data.rows.map((r: { id: number }) => r.id), JSON.stringify(params)).toEqual(expected);
        }
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});
