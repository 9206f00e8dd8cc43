import { afterAll, describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../aggregators/cpu-mem-5min.js';
import type { RollupSpec } from '../../src/core/rollup-spec.js';
import { ident, sql } from '../../src/core/sql-literal.js';
import { ClickHouseStore } from '../../src/store/clickhouse-store.js';
import { uniqueName } from '../helpers/events.js';
import { expectCode } from '../helpers/errors.js';
import { stackEnv } from '../helpers/stack.js';

/**
 * A sink table made by an earlier spec keeps its columns under CREATE IF NOT EXISTS, and current ClickHouse
 * drops unknown JSONEachRow fields: a rollup whose table lacks one of its measures must not start.
 */
const stack = stackEnv();
const database = uniqueName('rg_cols').replace(/[^A-Za-z0-9_]/g, '_');
const store = new ClickHouseStore({ url: stack.CLICKHOUSE_URL, database, user: 'default', password: '' });

afterAll(async () => {
  await store.command(sql`DROP DATABASE IF EXISTS ${ident(database)}`).catch(() => undefined);
  await store.close();
});

describe('ClickHouse sink tables', () => {
  it('refuses a table that lacks a column the spec writes, naming it', async () => {
    const older: RollupSpec = { ...cpuMem5min, measures: cpuMem5min.measures.filter((m) => m.name !== 'mem_usage_pct') };
    await store.ensureTable(older);
    const err = await expectCode(store.ensureTable(cpuMem5min), 'INVALID_CONFIG');
    expect(err.message).toContain('mem_usage_pct');
    expect(err.message).toContain(`${database}.${cpuMem5min.sink.table}`);
  });

  it('accepts the table it made itself, again', async () => {
    const fresh: RollupSpec = { ...cpuMem5min, sink: { ...cpuMem5min.sink, table: 'cpu_mem_fresh' } };
    await store.ensureTable(fresh);
    await store.ensureTable(fresh);
  });
});
