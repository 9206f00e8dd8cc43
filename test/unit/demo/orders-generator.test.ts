import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../src/demo/metrics-producer.js';
import { CITIES, OrdersGenerator, randomOrder, type NewOrder } from '../../../src/demo/orders-generator.js';
import { CUSTOMERS, customersSeedSql, ordersDdl } from '../../../src/demo/orders-source.js';

const silent = pino({ level: 'silent' });

describe('randomOrder', () => {
  it("draws like seed 002's DAG: amount and customer in 1..100, region from its 49 cities", () => {
    const random = seededRandom(7);
    const orders = Array.from({ length: 5000 }, () => randomOrder(random));
    for (const o of orders) {
      expect(Number.isInteger(o.order_revenue) && o.order_revenue >= 1 && o.order_revenue <= 100).toBe(true);
      expect(Number.isInteger(o.customer_id) && o.customer_id >= 1 && o.customer_id <= 100).toBe(true);
      expect(CITIES).toContain(o.order_region);
    }
    // Both ends of randint(1, 100) occur, and every city comes up.
    expect(new Set(orders.map((o) => o.order_revenue))).toEqual(new Set(Array.from({ length: 100 }, (_, i) => i + 1)));
    expect(new Set(orders.map((o) => o.order_region)).size).toBe(CITIES.length);
    expect(CITIES).toHaveLength(49);
  });

  it('is reproducible from its seed', () => {
    const draw = (seed: number) => {
      const random = seededRandom(seed);
      return Array.from({ length: 20 }, () => randomOrder(random));
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });
});

describe('OrdersGenerator', () => {
  const collect = () => {
    const inserted: NewOrder[][] = [];
    let failNext = 0;
    return {
      inserted,
      failTimes: (n: number) => (failNext = n),
      sink: {
        insertOrders: async (orders: readonly NewOrder[]) => {
          if (failNext > 0) {
            failNext--;
            throw new Error('mysql is restarting');
          }
          inserted.push([...orders]);
        },
      },
    };
  };

  it('inserts the orders due at each tick in one statement, at the configured rate', async () => {
    const c = collect();
    const gen = new OrdersGenerator(c.sink, { ratePerSecond: 5, random: seededRandom(1) }, silent);
    gen.start(0);
    await gen.stop(); // no timer ticks: the test drives time
    await gen.tick(0);
    await gen.tick(1000);
    await gen.tick(1100);
    await gen.tick(3000);
    expect(c.inserted.map((batch) => batch.length)).toEqual([1, 5, 10]);
    expect(gen.inserted).toBe(16);
  });

  it('keeps orders that failed to insert due, and inserts the same ones on the next tick', async () => {
    const c = collect();
    const gen = new OrdersGenerator(c.sink, { ratePerSecond: 10, random: seededRandom(2) }, silent);
    gen.start(0);
    await gen.stop();
    c.failTimes(1);
    await gen.tick(500);
    expect(gen.inserted).toBe(0);
    await gen.tick(500);
    expect(gen.inserted).toBe(6);
    const random = seededRandom(2);
    expect(c.inserted[0]).toEqual(Array.from({ length: 6 }, () => randomOrder(random)));
  });

  it('stops at maxOrders and resolves done', async () => {
    const c = collect();
    const gen = new OrdersGenerator(c.sink, { ratePerSecond: 1000, random: seededRandom(3), maxOrders: 25 }, silent);
    gen.start(0);
    await gen.tick(10_000);
    await gen.done;
    await gen.stop();
    expect(gen.inserted).toBe(25);
  });
});

describe('orders source', () => {
  it("creates seed 002's tables with its 100 customers, idempotently", () => {
    expect(CUSTOMERS).toHaveLength(100);
    expect(CUSTOMERS[0]).toEqual({ id: 1, name: 'Alice', age: 28, gender: 'Female' });
    expect(CUSTOMERS[99]).toEqual({ id: 100, name: 'Vlad', age: 24, gender: 'Male' });
    expect(new Set(CUSTOMERS.map((c) => c.id)).size).toBe(100);
    expect(customersSeedSql('db')).toMatch(/^INSERT IGNORE INTO `db`\.`customers`/);
    expect(ordersDdl('db')).toContain('order_revenue FLOAT NOT NULL');
    expect(ordersDdl('db')).toContain('CREATE TABLE IF NOT EXISTS `db`.`orders`');
  });
});
