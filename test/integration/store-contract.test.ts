import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../aggregators/cpu-mem-5min.js';
import { procTotals5min } from '../../aggregators/proc-totals-5min.js';
import type { RollupSpec } from '../../src/core/rollup-spec.js';
import { ident, sql } from '../../src/core/sql-literal.js';
import type { RollupRow } from '../../src/core/windowed-aggregation.js';
import { ClickHouseStore } from '../../src/store/clickhouse-store.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { MySqlStore } from '../../src/store/mysql-store.js';
import { CHECKPOINT_TABLE, type CheckpointSegment, type RollupStore } from '../../src/store/rollup-store.js';
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
  /** Writes a checkpoint the way versions before segments did, into the old table. */
  legacy: (store: RollupStore, groupId: string, partition: number, nextOffset: number, state: string) => Promise<void>;
}

const database = uniqueName('rollgate_store');
const cases: Case[] = [
  {
    name: 'clickhouse',
    spec: cpuMem5min,
    open: async () => new ClickHouseStore({ url: stack.CLICKHOUSE_URL, database, user: 'default', password: '' }),
    drop: (s) => (s as ClickHouseStore).command(sql`DROP DATABASE IF EXISTS ${ident(database)}`),
    legacy: (s, groupId, partition, nextOffset, state) =>
      (s as ClickHouseStore).command(
        sql`INSERT INTO ${ident(database)}.${ident(CHECKPOINT_TABLE)} (group_id, topic, partition, next_offset, state, updated_at)
            VALUES (${groupId}, 'topic', ${partition}, ${nextOffset}, ${state}, now())`,
      ),
  },
  {
    name: 'mysql',
    spec: procTotals5min,
    open: async () => new MySqlStore({ url: stack.MYSQL_URL, database }),
    drop: (s) => (s as MySqlStore).run(`DROP DATABASE IF EXISTS \`${database}\``),
    legacy: (s, groupId, partition, nextOffset, state) =>
      (s as MySqlStore).run(`INSERT INTO \`${database}\`.${CHECKPOINT_TABLE} VALUES (?, 'topic', ?, ?, ?)`, [groupId, partition, nextOffset, state]),
  },
  {
    name: 'duckdb',
    spec: procTotals5min,
    open: () => DuckDbStore.open(':memory:'),
    legacy: async (s, groupId, partition, nextOffset, state) => {
      const conn = await (s as DuckDbStore).database.connect();
      await conn.run(`INSERT INTO ${CHECKPOINT_TABLE} VALUES ($1, 'topic', $2, $3, $4)`, [groupId, partition, BigInt(nextOffset), state]);
      conn.closeSync();
    },
  },
];

function row(spec: RollupSpec, windowStart: number, ip: string, version: number, value: number, final = false): RollupRow {
  const measures = Object.fromEntries(spec.measures.map((m) => [m.name, value]));
  return { windowStart, group: { ip, pid: 7 }, measures, final, version };
}

/** A segment of partition `partition`'s chain; the store never looks inside `state`. */
function seg(groupId: string, partition: number, slot: number, chainId: string, nextOffset: number, parentOffset: number | null): CheckpointSegment {
  const kind = parentOffset === null ? 'base' : 'delta';
  return { groupId, topic: 'topic', partition, slot, chainId, kind, nextOffset, parentOffset, state: `${chainId}/${slot}@${nextOffset}` };
}

describe.each(cases)('$name store', ({ spec, open, drop, legacy }) => {
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

  it('stores a base and its deltas with the rows, and restores them in order', async () => {
    expect(await store.loadCheckpoint(groupId, 'topic', 0)).toBeUndefined();
    await store.write(spec, [row(spec, TODAY - DAY, 'c', 2, 1)], [seg(groupId, 0, 0, 'a', 10, null)]);
    await store.write(spec, [], [seg(groupId, 0, 1, 'a', 25, 10)]);
    await store.write(spec, [], [seg(groupId, 0, 2, 'a', 30, 25)]);
    expect(await store.loadCheckpoint(groupId, 'topic', 0)).toEqual({ nextOffset: 30, states: ['a/0@10', 'a/1@25', 'a/2@30'], deltas: 2 });
    // A writer that fell behind (a zombie) never replaces a slot's later segment.
    await store.write(spec, [], [seg(groupId, 0, 2, 'z', 12, 10)]);
    expect((await store.loadCheckpoint(groupId, 'topic', 0))?.states).toEqual(['a/0@10', 'a/1@25', 'a/2@30']);
    expect(await store.loadCheckpoint(groupId, 'topic', 1)).toBeUndefined();
  });

  it('a new base overwrites slot 0 and the old deltas above it are ignored until overwritten', async () => {
    await store.write(spec, [], [seg(groupId, 2, 0, 'a', 10, null), seg(groupId, 2, 1, 'a', 20, 10), seg(groupId, 2, 2, 'a', 30, 20)]);
    await store.write(spec, [], [seg(groupId, 2, 0, 'b', 40, null)]);
    expect(await store.loadCheckpoint(groupId, 'topic', 2)).toEqual({ nextOffset: 40, states: ['b/0@40'], deltas: 0 });
    await store.write(spec, [], [seg(groupId, 2, 1, 'b', 50, 40)]);
    expect(await store.loadCheckpoint(groupId, 'topic', 2)).toEqual({ nextOffset: 50, states: ['b/0@40', 'b/1@50'], deltas: 1 });
    // A base with no new offset (an idle partition's windows closed) still replaces the one at the same offset.
    await store.write(spec, [], [seg(groupId, 2, 0, 'c', 50, null)]);
    expect(await store.loadCheckpoint(groupId, 'topic', 2)).toEqual({ nextOffset: 50, states: ['c/0@50'], deltas: 0 });
  });

  it('refuses a chain whose links do not match or that continues past a gap', async () => {
    await store.write(spec, [], [seg(groupId, 3, 0, 'a', 10, null), seg(groupId, 3, 1, 'a', 20, 15)]);
    await expect(store.loadCheckpoint(groupId, 'topic', 3)).rejects.toThrow(/slot 1 .* does not apply on slot 0/);
    await store.write(spec, [], [seg(groupId, 4, 0, 'a', 10, null), seg(groupId, 4, 2, 'a', 30, 20)]);
    await expect(store.loadCheckpoint(groupId, 'topic', 4)).rejects.toThrow(/slot 1 is missing/);
  });

  it('restores from the old checkpoint table until the partition has segments', async () => {
    await legacy(store, groupId, 5, 7, '{"v":1}');
    expect(await store.loadCheckpoint(groupId, 'topic', 5)).toEqual({ nextOffset: 7, states: ['{"v":1}'], deltas: 0 });
    await store.write(spec, [], [seg(groupId, 5, 0, 'a', 9, null)]);
    expect(await store.loadCheckpoint(groupId, 'topic', 5)).toEqual({ nextOffset: 9, states: ['a/0@9'], deltas: 0 });
  });

  it('drops windows older than the retention', async () => {
    await store.write(spec, [row(spec, TODAY - 5 * DAY, 'r', 2, 1), row(spec, TODAY - 4 * DAY, 'r', 2, 1), row(spec, TODAY - DAY, 'r', 2, 1)], []);
    await store.dropBefore(spec, TODAY - 3 * DAY);
    expect((await read('r')).map((r) => r.windowStart)).toEqual([TODAY - DAY]);
  });
});
