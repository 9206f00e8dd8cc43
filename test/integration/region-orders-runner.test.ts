import mysql, { type Pool, type RowDataPacket } from 'mysql2/promise';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegionOrdersRunner } from '../../src/aggregation/region-orders-runner.js';
import { DLQ_HEADERS } from '../../src/aggregation/runner.js';
import { MemoryLog } from '../../src/ingest/memory-log.js';
import type { OutgoingMessage } from '../../src/ingest/topic-log.js';
import { Metrics } from '../../src/metrics.js';
import { RegionOrdersStore } from '../../src/store/region-orders-store.js';
import { uniqueName } from '../helpers/events.js';
import { stackEnv } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The region-orders runner in-process on real MySQL: bad change events go to
 * the DLQ with their reason and the rest still counts; a replayed change
 * (same binlog position) is harmless; a consumer whose log offset is behind
 * the store's (a crash before the Kafka commit) re-reads and skips.
 */
const stack = stackEnv();
const database = uniqueName('rollgate_ro_runner');
const mysqlUrl = `${stack.MYSQL_URL.replace(/\/[^/]*$/, '')}/${database}`;
const prefix = `${uniqueName('ror')}.`;
let pool: Pool;

const pos = (p: number) => ({ file: 'mysql-bin.000002', pos: p, row: 0, db: database, snapshot: 'false' });
const order = (op: string, p: number, o: { order_id: number; order_revenue?: number; order_region?: string; customer_id?: number }) => ({
  key: JSON.stringify({ order_id: o.order_id }),
  value: JSON.stringify({
    op,
    before: op === 'd' ? o : null,
    after: op === 'd' ? null : { create_time: '2026-11-24T06:01:02Z', ...o },
    source: pos(p),
    ts_ms: 0,
    transaction: null,
  }),
});
const customer = (op: string, p: number, id: number): OutgoingMessage => ({
  key: JSON.stringify({ id }),
  value: JSON.stringify({ op, before: op === 'd' ? { id } : null, after: op === 'd' ? null : { id, name: 'n', age: 30, gender: 'Male' }, source: pos(p), ts_ms: 0, transaction: null }),
});

const ORDERS: OutgoingMessage[] = [
  order('c', 10, { order_id: 1, order_revenue: 10.5, order_region: 'A', customer_id: 1 }),
  order('c', 11, { order_id: 2, order_revenue: 5, order_region: 'B', customer_id: 2 }),
  { key: '{"order_id":3}', value: JSON.stringify({ op: 'x', after: { order_id: 3 }, source: pos(12) }) },
  order('c', 10, { order_id: 1, order_revenue: 10.5, order_region: 'A', customer_id: 1 }), // a replay of the first
  order('u', 13, { order_id: 1, order_revenue: 20.25, order_region: 'A', customer_id: 1 }),
];
const CUSTOMERS: OutgoingMessage[] = [customer('r', 5, 1), customer('c', 14, 2)];

async function totals(): Promise<Array<[string, number, string]>> {
  const [rows] = await pool.query<RowDataPacket[]>(`SELECT order_region, order_cnt, order_total_revenue FROM \`${database}\`.region_order_totals ORDER BY order_region`);
  return rows.map((r) => [String(r['order_region']), Number(r['order_cnt']), String(r['order_total_revenue'])]);
}

async function runWith(log: MemoryLog, until: (t: Array<[string, number, string]>) => boolean): Promise<void> {
  const store = new RegionOrdersStore(mysqlUrl);
  const runner = new RegionOrdersRunner({ log, store, logger: pino({ level: 'silent' }), metrics: new Metrics({ defaultMetrics: false }), topicPrefix: prefix, chunk: 2 });
  await runner.start();
  try {
    await waitFor('totals', async () => (until(await totals()) ? true : undefined), 30_000);
  } finally {
    await runner.stop();
    await store.close();
  }
}

async function logWith(orders: OutgoingMessage[], customers: OutgoingMessage[]): Promise<MemoryLog> {
  const log = new MemoryLog();
  const producer = await log.producer();
  await producer.send(`${prefix}orders`, orders);
  await producer.send(`${prefix}customers`, customers);
  return log;
}

beforeAll(async () => {
  pool = mysql.createPool({ uri: stack.MYSQL_URL, connectionLimit: 2 });
});

afterAll(async () => {
  await pool?.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await pool?.end();
});

describe('region-orders runner', () => {
  it('dead-letters what cannot be applied, drops replays by position, counts a late customer’s orders', async () => {
    const log = await logWith(ORDERS, CUSTOMERS);
    const expected: Array<[string, number, string]> = [
      ['A', 1, '20.25'],
      ['B', 1, '5.00'],
    ];
    await runWith(log, (t) => JSON.stringify(t) === JSON.stringify(expected));
    expect(await totals()).toEqual(expected);
    const letters = log.read(`${prefix}orders.dlq`, 0, 10);
    expect(letters).toHaveLength(1);
    expect(letters[0]!.headers[DLQ_HEADERS.code]).toBe('INVALID_EVENT');
    expect(letters[0]!.headers[DLQ_HEADERS.reason]).toMatch(/^op:/);
    expect(letters[0]!.headers[DLQ_HEADERS.source]).toBe(`${prefix}orders/0/2`);
  });

  it('skips what the store already has when the log offset is behind it (a crash before the Kafka commit)', async () => {
    // A fresh log holds the same messages at the same offsets plus one more: the consumer starts at 0.
    const log = await logWith([...ORDERS, order('d', 20, { order_id: 2 })], CUSTOMERS);
    const expected: Array<[string, number, string]> = [['A', 1, '20.25']];
    await runWith(log, (t) => JSON.stringify(t) === JSON.stringify(expected));
    expect(await totals()).toEqual(expected);
    // The bad event was not dead-lettered again: the store had moved past it.
    expect(log.read(`${prefix}orders.dlq`, 0, 10)).toHaveLength(0);
  });
});
