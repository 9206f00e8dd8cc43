import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RegionOrdersRunner } from '../../../src/aggregation/region-orders-runner.js';
import { seededRandom } from '../../../src/demo/metrics-producer.js';
import { ChangeEventOrderSink } from '../../../src/demo/order-change-events.js';
import { randomOrder, type NewOrder } from '../../../src/demo/orders-generator.js';
import { MemoryLog } from '../../../src/ingest/memory-log.js';
import { Metrics } from '../../../src/metrics.js';
import { DuckDbRegionOrdersStore } from '../../../src/store/duckdb-region-orders-store.js';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The embedded demo's order pipeline: the generator's CDC-shaped change events
 * in the in-process log, region-orders on DuckDB. The totals must equal a
 * GROUP BY over the orders generated (all the seed's customers exist).
 */
describe('region-orders embedded (MemoryLog + DuckDB)', () => {
  it('turns generated orders into totals and trend equal to their GROUP BY, and a restart counts nothing twice', async () => {
    const duck = await DuckDbStore.open(':memory:');
    const log = new MemoryLog();
    const producer = await log.producer();
    let clock = Date.UTC(2026, 10, 24, 6, 0, 0);
    const sink = new ChangeEventOrderSink(producer, '', () => clock);
    await sink.snapshotCustomers();
    const random = seededRandom(7);
    const made: Array<NewOrder & { t: number }> = [];
    for (let i = 0; i < 40; i++) {
      const batch = Array.from({ length: 1 + (i % 4) }, () => randomOrder(random));
      await sink.insertOrders(batch);
      made.push(...batch.map((o) => ({ ...o, t: Math.floor(clock / 300_000) * 300_000 })));
      clock += 47_000;
    }
    const expected = new Map<string, number[]>();
    for (const o of made) {
      const t = expected.get(o.order_region) ?? [0, 0];
      expected.set(o.order_region, [t[0]! + 1, t[1]! + o.order_revenue]);
    }
    const want = [...expected].map(([r, [n, s]]) => [r, n, s!.toFixed(2)]).sort();

    const totals = async (conn: Awaited<ReturnType<typeof duck.database.connect>>) =>
      (await conn.runAndReadAll('SELECT order_region, order_cnt, CAST(order_total_revenue AS VARCHAR) AS s FROM region_order_totals'))
        .getRowObjects()
        .map((r) => [String(r['order_region']), Number(r['order_cnt']), String(r['s'])])
        .sort();
    const conn = await duck.database.connect();
    for (let round = 0; round < 2; round++) {
      // The second round: a new runner on the same log from offset 0, as after a crash before any commit.
      const store = await DuckDbRegionOrdersStore.open(duck.database);
      const runner = new RegionOrdersRunner({ log, store, logger: pino({ level: 'silent' }), metrics: new Metrics({ defaultMetrics: false }), topicPrefix: '' });
      if (round === 1) log.commit(runner.groupId, 'orders', 0);
      await runner.start();
      await waitFor('totals', async () => (JSON.stringify(await totals(conn)) === JSON.stringify(want) ? true : undefined), 10_000, 50);
      await runner.stop();
      await store.close();
    }
    expect(await totals(conn)).toEqual(want);
    const trend = (await conn.runAndReadAll('SELECT sum(order_cnt) AS n, count(*) AS w FROM region_orders_5min')).getRowObjects()[0]!;
    expect(Number(trend['n'])).toBe(made.length);
    expect(Number(trend['w'])).toBe(new Set(made.map((o) => `${o.t}/${o.order_region}`)).size);
    conn.closeSync();
    await producer.close();
    await duck.close();
  });
});
