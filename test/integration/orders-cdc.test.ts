import mysql, { type Pool, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEnvelope } from '../../src/core/cdc/change-event.js';
import { compareBinlogPositions } from '../../src/core/cdc/offset.js';
import { seededRandom } from '../../src/demo/metrics-producer.js';
import { CITIES } from '../../src/demo/orders-generator.js';
import { ensureOrdersSource, startOrdersGenerator } from '../../src/demo/orders-source.js';
import { ChangeTail, positionOf, positionsAscending, replays, type ReadChange } from '../helpers/change-topics.js';
import { uniqueName } from '../helpers/events.js';
import { startRollgate, type RollgateProcess } from '../helpers/rollgate-process.js';
import { stackEnv } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';
import { pino } from 'pino';

/**
 * `rollgate cdc` as a separate process against the real MariaDB binlog and
 * Kafka: snapshot, streaming, exact values, and a SIGKILL in the middle of
 * a write storm with nothing lost.
 */
const stack = stackEnv();
const database = uniqueName('rollgate_cdc');
const prefix = `${uniqueName('cdc')}.`;
const mysqlUrl = `${stack.MYSQL_URL.replace(/\/[^/]*$/, '')}/${database}`;
const TABLES = ['customers', 'orders', 'payments'];
const topic = (table: string) => prefix + table;
let pool: Pool;
let cdc: RollgateProcess | undefined;
let tail: ChangeTail;

function startCdc(): RollgateProcess {
  return startRollgate(['cdc', '--tables', TABLES.join(',')], {
    KAFKA_BROKERS: stack.KAFKA_BROKERS,
    MYSQL_URL: mysqlUrl,
    TOPIC_PREFIX: prefix,
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
  });
}

/** The CLI prints its metrics URL once the snapshot is written and the binlog is being read. */
async function ready(proc: RollgateProcess): Promise<void> {
  await waitFor('rollgate cdc to start streaming', async () => {
    if (proc.child.exitCode !== null) throw new Error(`rollgate cdc exited ${proc.child.exitCode}:\n${proc.output()}`);
    return /rollgate cdc: health and metrics on/.test(proc.output()) ? true : undefined;
  }, 90_000);
}

const exec = async (sql: string, params: unknown[] = []) => (await pool.query<ResultSetHeader>(sql, params))[0];
const select = async (sql: string, params: unknown[] = []) => (await pool.query<RowDataPacket[]>(sql, params))[0];
const streamed = (events: ReadChange[]) => events.filter((e) => e.envelope.source.snapshot === 'false');

beforeAll(async () => {
  pool = mysql.createPool({ uri: stack.MYSQL_URL, connectionLimit: 4, charset: 'utf8mb4', multipleStatements: false });
  await ensureOrdersSource(pool, database);
  // A DECIMAL money column: the seed's order_revenue is FLOAT, so exactness is shown on a table of our own.
  await exec(`CREATE TABLE \`${database}\`.payments (id INT PRIMARY KEY, amount DECIMAL(20,4) NOT NULL, paid_at DATETIME(3) NULL) ENGINE=InnoDB`);
  await exec(`INSERT INTO \`${database}\`.payments VALUES (1, '12345678901234.5678', '2026-11-24 10:11:12.345'), (2, '-0.0001', NULL)`);
  await exec(`INSERT INTO \`${database}\`.orders (order_revenue, order_region, customer_id) VALUES (10, '北京', 1), (20, '上海', 2), (30.5, '广州', 3)`);
  cdc = startCdc();
  await ready(cdc);
  tail = await ChangeTail.start(stack.KAFKA_BROKERS, TABLES.map(topic));
});

afterAll(async () => {
  await cdc?.stop('SIGTERM');
  await tail?.stop();
  await pool?.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await pool?.end();
});

describe('rollgate cdc', () => {
  it('takes a snapshot on first start: every existing row as op r, at the binlog position it then streams from', async () => {
    const customers = await tail.waitForCount(topic('customers'), 100);
    const orders = await tail.waitForCount(topic('orders'), 3);
    const payments = await tail.waitForCount(topic('payments'), 2);
    const snapshot = [...customers, ...orders, ...payments].filter((e) => e.envelope.op === 'r');
    expect(snapshot).toHaveLength(105);
    expect(customers.slice(0, 100).every((e) => e.envelope.op === 'r' && e.envelope.before === null)).toBe(true);
    expect(customers[0]!.key).toBe('{"id":1}');
    expect(customers[0]!.envelope.after).toEqual({ id: 1, name: 'Alice', age: 28, gender: 'Female' });
    expect(customers[99]!.envelope.after).toEqual({ id: 100, name: 'Vlad', age: 24, gender: 'Male' });
    expect(orders.map((e) => e.envelope.after?.['order_revenue'])).toEqual([10, 20, 30.5]);
    // One consistent point: every snapshot record names the same binlog position; only the very last says "last".
    expect(new Set(snapshot.map((e) => `${e.envelope.source.file}:${e.envelope.source.pos}`)).size).toBe(1);
    expect(snapshot.filter((e) => e.envelope.source.snapshot === 'last')).toHaveLength(1);
    expect(payments.at(-1)!.envelope.source.snapshot).toBe('last');
    expect(snapshot.every((e) => e.envelope.source.db === database && e.envelope.source.server_id > 0)).toBe(true);
  });

  it('streams inserts, updates and deletes as Debezium envelopes, keyed by primary key, DECIMAL exact', async () => {
    const db = `\`${database}\``;
    const { insertId } = await exec(`INSERT INTO ${db}.orders (order_revenue, order_region, customer_id) VALUES (12.34, '深圳', 42)`);
    await exec(`UPDATE ${db}.orders SET order_revenue = 99, order_region = '成都' WHERE order_id = ?`, [insertId]);
    await exec(`DELETE FROM ${db}.orders WHERE order_id = 1`);
    await exec(`UPDATE ${db}.customers SET age = age + 1 WHERE id = 2`);
    await exec(`INSERT INTO ${db}.payments VALUES (3, '99999999999999.9999', '2026-01-02 03:04:05.006')`);
    await exec(`UPDATE ${db}.payments SET amount = '0.1000' WHERE id = 1`);
    // Changing a primary key: a delete of the old key and a create of the new one.
    await exec(`UPDATE ${db}.payments SET id = 20 WHERE id = 2`);
    // One transaction over two tables.
    const conn = await pool.getConnection();
    try {
      await conn.beginTransaction();
      await conn.query(`INSERT INTO ${db}.orders (order_revenue, order_region, customer_id) VALUES (1, '杭州', 7), (2, '杭州', 7)`);
      await conn.query(`UPDATE ${db}.customers SET name = 'Grace Hopper' WHERE id = 7`);
      await conn.commit();
    } finally {
      conn.release();
    }

    const orders = streamed(await tail.waitForCount(topic('orders'), 3 + 5));
    expect(orders.map((e) => e.envelope.op)).toEqual(['c', 'u', 'd', 'c', 'c']);
    const [created, updated, deleted] = orders;
    expect(created!.key).toBe(`{"order_id":${insertId}}`);
    expect(created!.envelope).toMatchObject({
      before: null,
      after: { order_id: insertId, order_revenue: 12.34, order_region: '深圳', customer_id: 42 },
      op: 'c',
      source: { connector: 'mariadb', db: database, table: 'orders', snapshot: 'false' },
    });
    expect(created!.envelope.after!['create_time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(updated!.envelope.before).toMatchObject({ order_revenue: 12.34, order_region: '深圳' });
    expect(updated!.envelope.after).toMatchObject({ order_revenue: 99, order_region: '成都' });
    expect(deleted!.key).toBe('{"order_id":1}');
    expect(deleted!.envelope).toMatchObject({ before: { order_id: 1, order_revenue: 10, order_region: '北京' }, after: null, op: 'd' });

    const customers = streamed(await tail.waitForCount(topic('customers'), 100 + 2));
    expect(customers.map((e) => [e.key, e.envelope.op, e.envelope.after?.['age'] ?? e.envelope.after?.['name']])).toEqual([
      ['{"id":2}', 'u', 35],
      ['{"id":7}', 'u', 31],
    ]);
    expect(customers[1]!.envelope.after!['name']).toBe('Grace Hopper');

    const payments = streamed(await tail.waitForCount(topic('payments'), 2 + 4));
    expect(payments.map((e) => [e.key, e.envelope.op])).toEqual([
      ['{"id":3}', 'c'],
      ['{"id":1}', 'u'],
      ['{"id":2}', 'd'],
      ['{"id":20}', 'c'],
    ]);
    // Exact decimals, as strings with the column's scale; DATETIME(3) as epoch ms of its UTC reading.
    expect(payments[0]!.envelope.after).toEqual({ id: 3, amount: '99999999999999.9999', paid_at: Date.UTC(2026, 0, 2, 3, 4, 5, 6) });
    expect(payments[1]!.envelope.before).toEqual({ id: 1, amount: '12345678901234.5678', paid_at: Date.UTC(2026, 10, 24, 10, 11, 12, 345) });
    expect(payments[1]!.envelope.after!['amount']).toBe('0.1000');
    expect(payments[2]!.envelope.before).toEqual({ id: 2, amount: '-0.0001', paid_at: null });
    expect(payments[2]!.headers['__debezium.newkey']).toBe('{"id":20}');
    expect(payments[3]!.envelope.after).toEqual({ id: 20, amount: '-0.0001', paid_at: null });

    // The two-table transaction: one binlog position, rows numbered across both tables.
    const txnOrders = orders.slice(3);
    const txnCustomer = customers[1]!;
    expect(new Set([...txnOrders, txnCustomer].map((e) => `${e.envelope.source.file}:${e.envelope.source.pos}`)).size).toBe(1);
    expect([...txnOrders, txnCustomer].map((e) => e.envelope.source.row)).toEqual([0, 1, 2]);
    expect(new Set([...txnOrders, txnCustomer].map((e) => e.envelope.source.gtid)).size).toBe(1);

    // Positions only grow along each topic, and stream after the snapshot's.
    for (const t of TABLES) {
      const events = tail.events(topic(t));
      expect(positionsAscending(events)).toBe(true);
      const snap = events.find((e) => e.envelope.op === 'r')!;
      expect(compareBinlogPositions(positionOf(snap), positionOf(streamed(events)[0]!))).toBeLessThan(0);
    }
  });

  it('loses nothing when killed with SIGKILL mid-stream: the restarted process resumes from its stored offset', async () => {
    const db = `\`${database}\``;
    const before = new Map(TABLES.map((t) => [t, tail.events(topic(t)).length]));
    const snapshotReads = tail.events().filter((e) => e.envelope.op === 'r').length;
    const random = seededRandom(20261124);
    const live: number[] = (await select(`SELECT order_id FROM ${db}.orders`)).map((r) => Number(r['order_id']));
    const expected = { orders: 0, customers: 0 };
    let writing = true;

    // Inserts, updates and deletes as fast as MySQL takes them, some in multi-row statements
    // and two-table transactions, while the demo generator inserts orders alongside.
    const writer = (async () => {
      while (writing) {
        const dice = random();
        if (dice < 0.45 || live.length < 5) {
          const n = 1 + Math.floor(random() * 3);
          const rows = Array.from({ length: n }, () => [1 + Math.floor(random() * 100), CITIES[Math.floor(random() * CITIES.length)]!, 1 + Math.floor(random() * 100)]);
          const r = await exec(`INSERT INTO ${db}.orders (order_revenue, order_region, customer_id) VALUES ?`, [rows]);
          for (let i = 0; i < r.affectedRows; i++) live.push(r.insertId + i);
          expected.orders += r.affectedRows;
        } else if (dice < 0.75) {
          const id = live[Math.floor(random() * live.length)]!;
          const r = await exec(`UPDATE ${db}.orders SET order_revenue = order_revenue + 1, order_region = ? WHERE order_id = ?`, [CITIES[Math.floor(random() * CITIES.length)]!, id]);
          expected.orders += r.affectedRows;
        } else if (dice < 0.9) {
          const id = live.splice(Math.floor(random() * live.length), 1)[0]!;
          expected.orders += (await exec(`DELETE FROM ${db}.orders WHERE order_id = ?`, [id])).affectedRows;
        } else {
          const conn = await pool.getConnection();
          try {
            await conn.beginTransaction();
            const [r] = await conn.query<ResultSetHeader>(`INSERT INTO ${db}.orders (order_revenue, order_region, customer_id) VALUES (5, '西安', 9)`);
            live.push(r.insertId);
            const [c] = await conn.query<ResultSetHeader>(`UPDATE ${db}.customers SET age = age + 1 WHERE id = ?`, [1 + Math.floor(random() * 100)]);
            await conn.commit();
            expected.orders += 1;
            expected.customers += c.affectedRows;
          } finally {
            conn.release();
          }
        }
      }
    })();
    const generator = await startOrdersGenerator({ mysqlUrl, ratePerSecond: 200, seed: 99, logger: pino({ level: 'silent' }) });

    // Let it stream, kill it without warning, keep writing while it is down, restart it.
    await waitFor('changes to flow', async () => (tail.events(topic('orders')).length > before.get('orders')! + 200 ? true : undefined), 30_000);
    const killed = await cdc!.stop('SIGKILL');
    expect(killed).toBeNull(); // no exit code: it died of the signal
    const atKill = tail.events(topic('orders')).length;
    await new Promise((r) => setTimeout(r, 1500));
    cdc = startCdc();
    await ready(cdc);
    await new Promise((r) => setTimeout(r, 1500));
    writing = false;
    await writer;
    await generator.stop();
    expected.orders += generator.generator.inserted;

    const orders = await tail.waitForCount(topic('orders'), before.get('orders')! + expected.orders, 90_000);
    await tail.waitForCount(topic('customers'), before.get('customers')! + expected.customers, 90_000);
    // Give a duplicate, if any, the chance to show up before counting.
    await new Promise((r) => setTimeout(r, 2000));
    const newOrders = tail.events(topic('orders')).slice(before.get('orders')!);
    const newCustomers = tail.events(topic('customers')).slice(before.get('customers')!);
    expect(atKill).toBeLessThan(orders.length); // the kill really was mid-stream
    expect(cdc.output()).toMatch(/resuming from the stored offset/);

    // Exactly the changes made, no more (no replays reached read_committed readers), no fewer:
    expect(newOrders).toHaveLength(expected.orders);
    expect(newCustomers).toHaveLength(expected.customers);
    if (process.env['CDC_TEST_VERBOSE'] === '1') {
      process.stderr.write(`orders changes ${expected.orders} (seen at kill ${atKill - before.get('orders')!}), customers ${expected.customers}\n`);
    }
    expect(replays(tail.events())).toEqual([]);
    // No new snapshot after the restart.
    expect(tail.events().filter((e) => e.envelope.op === 'r')).toHaveLength(snapshotReads);
    // Per key, each change starts from the row the previous one left: a lost event would break the chain.
    for (const events of [tail.events(topic('orders')), tail.events(topic('customers'))]) {
      expect(brokenChains(events)).toEqual([]);
      expect(positionsAscending(events)).toBe(true);
    }
    // And folding the topic gives MySQL's own table.
    const folded = fold(tail.events(topic('orders')));
    const table = await select(`SELECT order_id, order_revenue, order_region, customer_id, UNIX_TIMESTAMP(create_time) AS t FROM ${db}.orders ORDER BY order_id`);
    expect([...folded.values()].sort((a, b) => Number(a['order_id']) - Number(b['order_id']))).toEqual(
      table.map((r) => ({
        order_id: r['order_id'],
        order_revenue: r['order_revenue'],
        order_region: r['order_region'],
        customer_id: r['customer_id'],
        create_time: new Date(Number(r['t']) * 1000).toISOString().replace('.000Z', 'Z'),
      })),
    );
  });

  it('fails fast, naming the setting, when it cannot read the binlog as a replica', async () => {
    const [row] = await select('SELECT @@GLOBAL.server_id AS id');
    const proc = startRollgate(['cdc', '--tables', 'orders', '--server-id', String(row!['id'])], {
      KAFKA_BROKERS: stack.KAFKA_BROKERS,
      MYSQL_URL: mysqlUrl,
      TOPIC_PREFIX: `${uniqueName('cdcbad')}.`,
      METRICS_PORT: '0',
    });
    const code = await new Promise<number | null>((resolve) => proc.child.once('exit', resolve));
    expect(code).toBe(1);
    expect(proc.output()).toMatch(/server_id is \d+; needs different from the id CDC connects with/);
    expect(proc.output()).toMatch(/INVALID_CONFIG/);
  });
});

/** Events whose `before` is not what the previous event of their key left behind. */
function brokenChains(events: readonly ReadChange[]): string[] {
  const state = new Map<string, ChangeEnvelope['after']>();
  const broken: string[] = [];
  for (const e of events) {
    const key = e.key ?? '';
    const { op, before, after } = e.envelope;
    if (op === 'u' || op === 'd') {
      if (JSON.stringify(state.get(key) ?? null) !== JSON.stringify(before)) broken.push(`${key} ${op} at offset ${e.offset}`);
    } else if (op === 'c' && state.has(key)) {
      broken.push(`${key} created twice at offset ${e.offset}`);
    }
    if (op === 'd') state.delete(key);
    else state.set(key, after);
  }
  return broken;
}

function fold(events: readonly ReadChange[]): Map<string, Record<string, unknown>> {
  const rows = new Map<string, Record<string, unknown>>();
  for (const e of events) {
    if (e.envelope.op === 'd') rows.delete(e.key ?? '');
    else rows.set(e.key ?? '', e.envelope.after!);
  }
  return rows;
}
