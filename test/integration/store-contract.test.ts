import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../aggregators/cpu-mem-5min.js';
import { procTotals5min } from '../../aggregators/proc-totals-5min.js';
import type { RollupSpec } from '../../src/core/rollup-spec.js';
import { ident, sql } from '../../src/core/sql-literal.js';
import type { RollupRow } from '../../src/core/windowed-aggregation.js';
import { ClickHouseStore } from '../../src/store/clickhouse-store.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { MySqlStore } from '../../src/store/mysql-store.js';
import type { RollupStore } from '../../src/store/rollup-store.js';
import { uniqueName } from '../helpers/events.js';
import { stackEnv } from '../helpers/stack.js';

/** The promises every store makes to the runner, checked on the real ClickHouse and MySQL and on DuckDB. */
const stack = stackEnv();
const DAY = 86_400_000;
const TODAY = Math.floor(Date.now() / DAY) * DAY;

interface Case {
  name: string;
  spec: RollupSpec;
  open: () => Promise<RollupStore>;
  drop?: (store: RollupStore) => Promise<void>;
}

const database = uniqueName('rollgate_store');
const cases: Case[] = [
  {
    name: 'clickhouse',
    spec: cpuMem5min,
    open: async () => new ClickHouseStore({ url: stack.CLICKHOUSE_URL, database, user: 'default', password: '' }),
    drop: (s) => (s as ClickHouseStore).command(sql`DROP DATABASE IF EXISTS ${ident(database)}`),
  },
  {
    name: 'mysql',
    spec: procTotals5min,
    open: async () => new MySqlStore({ url: stack.MYSQL_URL, database }),
    drop: (s) => (s as MySqlStore).run(`DROP DATABASE IF EXISTS \`${database}\``),
  },
  { name: 'duckdb', spec: procTotals5min, open: () => DuckDbStore.open(':memory:') },
];

function row(spec: RollupSpec, windowStart: number, ip: string, version: number, value: number, final = false): RollupRow {
  const measures = Object.fromEntries(spec.measures.map((m) => [m.name, value]));
  return { windowStart, group: { ip, pid: 7 }, measures, final, version };
}

describe.each(cases)('$name store', ({ spec, open, drop }) => {
  let store: RollupStore;
  const groupId = uniqueName('group');
  beforeAll(async () => {
    store = await open();
    await store.ensureTable(spec);
  });
  afterAll(async () => {
    await drop?.(store);
    await store.close();
  });

  const read = async (ip: string) => (await store.query(spec, { equals: { ip }, limit: 100, offset: 0 })).rows;

  it('keeps the highest version of a row, whatever order the writes come in', async () => {
    const t = TODAY - DAY;
    await store.write(spec, [row(spec, t, 'v', 4, 40)], []);
    await store.write(spec, [row(spec, t, 'v', 2, 20)], []); // a replayed, less complete row
    expect((await read('v')).map((r) => r.measures[spec.measures[0]!.name])).toEqual([40]);
    await store.write(spec, [row(spec, t, 'v', 5, 50, true)], []);
    await store.write(spec, [row(spec, t, 'v', 5, 50, true)], []); // the same row again
    const rows = await read('v');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ final: true, windowStart: t });
  });

  it('serves final-only reads', async () => {
    const t = TODAY - DAY;
    await store.write(spec, [row(spec, t, 'f', 2, 1, true), row(spec, t + 300_000, 'f', 2, 1, false)], []);
    const page = await store.query(spec, { equals: { ip: 'f' }, finalOnly: true, limit: 10, offset: 0 });
    expect(page.totalNum).toBe(1);
    expect(page.rows.every((r) => r.final)).toBe(true);
  });

  it('stores checkpoints with the rows; a later offset wins and an older one never replaces it', async () => {
    expect(await store.loadCheckpoint(groupId, 'topic', 0)).toBeUndefined();
    await store.write(spec, [row(spec, TODAY - DAY, 'c', 2, 1)], [{ groupId, topic: 'topic', partition: 0, nextOffset: 10, state: '{"n":10}' }]);
    await store.write(spec, [], [{ groupId, topic: 'topic', partition: 0, nextOffset: 25, state: '{"n":25}' }]);
    await store.write(spec, [], [{ groupId, topic: 'topic', partition: 0, nextOffset: 12, state: '{"n":12}' }]); // a zombie writer
    expect(await store.loadCheckpoint(groupId, 'topic', 0)).toEqual({ groupId, topic: 'topic', partition: 0, nextOffset: 25, state: '{"n":25}' });
    expect(await store.loadCheckpoint(groupId, 'topic', 1)).toBeUndefined();
  });

  it('drops windows older than the retention', async () => {
    await store.write(spec, [row(spec, TODAY - 5 * DAY, 'r', 2, 1), row(spec, TODAY - 4 * DAY, 'r', 2, 1), row(spec, TODAY - DAY, 'r', 2, 1)], []);
    await store.dropBefore(spec, TODAY - 3 * DAY);
    expect((await read('r')).map((r) => r.windowStart)).toEqual([TODAY - DAY]);
  });
});
