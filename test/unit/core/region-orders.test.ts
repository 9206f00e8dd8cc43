import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyChanges,
  centsToDecimal,
  changedCustomerIds,
  changedOrderIds,
  decodeChange,
  exactCents,
  neededCustomerIds,
  revenueCents,
  trendKey,
  windowStart,
  type CustomerState,
  type OrderState,
  type RegionChange,
} from '../../../src/core/region-orders.js';

/**
 * The retraction core against a naive recomputation: random inserts, updates
 * (revenue, region, customer), deletes, customer deletes and late customers
 * on a model of the two tables, delivered as two topics interleaved in any
 * order, with duplicates, in random batches. After every batch the totals
 * must equal the join over the mirror; at the end, the join over the source.
 */

interface Source {
  orders: Map<number, { region: string; cents: bigint; customerId: number; createTimeMs: number }>;
  customers: Set<number>;
}

type Totals = Map<string, { count: number; cents: bigint }>;

function naive(source: Source): { totals: Totals; trend: Totals } {
  const totals: Totals = new Map();
  const trend: Totals = new Map();
  for (const o of source.orders.values()) {
    if (!source.customers.has(o.customerId) || o.customerId === -1) continue;
    for (const [map, key] of [
      [totals, o.region],
      [trend, trendKey({ windowStartMs: windowStart(o.createTimeMs), region: o.region })],
    ] as const) {
      const t = map.get(key) ?? { count: 0, cents: 0n };
      t.count += 1;
      t.cents += o.cents;
      map.set(key, t);
    }
  }
  return { totals, trend };
}

const REGIONS = ['北京', '上海', '广州', 'x'];

/** A random history of the two tables as the CDC would emit it: one change list, binlog positions ascending. */
function history(seed: number, steps: number): { changes: RegionChange[]; source: Source } {
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const source: Source = { orders: new Map(), customers: new Set([-1, 1, 2]) };
  const changes: RegionChange[] = [];
  let pos = 4;
  const position = () => ({ file: `bin.00000${1 + Math.floor(pos / 1000)}`, pos: (pos += 1 + Math.floor(rnd() * 3)), row: 0 });
  for (const id of source.customers) changes.push({ table: 'customers', customerId: id, present: true, values: { name: 'n', age: 1, gender: null }, position: position() });
  let nextOrder = 1;
  for (let i = 0; i < steps; i++) {
    const dice = rnd();
    const p = position();
    const customerIds = [-1, 1, 2, 3, 4, 5];
    const orderIds = [...source.orders.keys()];
    if (dice < 0.35 || orderIds.length === 0) {
      const o = { region: pick(REGIONS), cents: BigInt(Math.floor(rnd() * 20000) - 100), customerId: pick(customerIds), createTimeMs: Math.floor(rnd() * 4) * 200_000 };
      const id = nextOrder++;
      source.orders.set(id, o);
      changes.push({ table: 'orders', orderId: id, after: { region: o.region, revenueCents: o.cents, customerId: o.customerId, createTimeMs: o.createTimeMs }, position: p });
    } else if (dice < 0.65) {
      const id = pick(orderIds);
      const o = { ...source.orders.get(id)! };
      const what = rnd();
      if (what < 0.3) o.cents = BigInt(Math.floor(rnd() * 20000));
      else if (what < 0.5) o.region = pick(REGIONS);
      else if (what < 0.8) o.customerId = pick(customerIds);
      else o.createTimeMs = Math.floor(rnd() * 4) * 200_000;
      source.orders.set(id, o);
      changes.push({ table: 'orders', orderId: id, after: { region: o.region, revenueCents: o.cents, customerId: o.customerId, createTimeMs: o.createTimeMs }, position: p });
    } else if (dice < 0.8) {
      const id = pick(orderIds);
      source.orders.delete(id);
      changes.push({ table: 'orders', orderId: id, after: null, position: p });
    } else {
      // Customers come and go, including ones whose orders arrived first.
      const id = pick(customerIds);
      const present = !source.customers.has(id);
      if (present) source.customers.add(id);
      else source.customers.delete(id);
      changes.push({ table: 'customers', customerId: id, present, values: { name: 'n', age: null, gender: null }, position: p });
    }
  }
  return { changes, source };
}

/** The durable mirror, as the MySQL sink keeps it, with the totals applied from deltas. */
class Store {
  orders = new Map<number, OrderState>();
  customers = new Map<number, CustomerState>();
  totals: Totals = new Map();
  trend: Totals = new Map();
  lastDetail: ReturnType<typeof applyChanges>['detail'] = [];

  apply(batch: readonly RegionChange[]): void {
    // Load exactly what the MySQL sink loads: changed orders, orders of changed customers, then their customers.
    const orders = new Map<number, OrderState>();
    for (const id of changedOrderIds(batch)) {
      const o = this.orders.get(id);
      if (o !== undefined) orders.set(id, o);
    }
    const changedCustomers = new Set(changedCustomerIds(batch));
    for (const o of this.orders.values()) if (changedCustomers.has(o.customerId)) orders.set(o.orderId, o);
    const customers = new Map<number, CustomerState>();
    for (const id of neededCustomerIds(batch, orders.values())) {
      const c = this.customers.get(id);
      if (c !== undefined) customers.set(id, c);
    }
    const out = applyChanges({ orders, customers }, batch);
    this.lastDetail = out.detail;
    for (const o of out.orders) this.orders.set(o.orderId, o);
    for (const c of out.customers) this.customers.set(c.id, c);
    for (const [map, deltas] of [
      [this.totals, out.totals],
      [this.trend, out.trend],
    ] as const) {
      for (const [k, d] of deltas) {
        const t = map.get(k) ?? { count: 0, cents: 0n };
        t.count += d.count;
        t.cents += d.cents;
        if (t.count === 0 && t.cents === 0n) map.delete(k);
        else map.set(k, t);
      }
    }
  }

  mirror(): Source {
    const source: Source = { orders: new Map(), customers: new Set() };
    for (const o of this.orders.values()) {
      if (o.present) source.orders.set(o.orderId, { region: o.region, cents: o.revenueCents, customerId: o.customerId, createTimeMs: o.createTimeMs ?? 0 });
    }
    for (const c of this.customers.values()) if (c.present) source.customers.add(c.id);
    return source;
  }
}

describe('region-orders retraction core', () => {
  it('equals the naive join after every batch and the source at quiescence, whatever the interleaving, duplicates and batching', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 120 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed, steps, shuffleSeed) => {
        const { changes, source } = history(seed, steps);
        let s = shuffleSeed || 7;
        const rnd = () => ((s = (s * 48271) % 2147483647) / 2147483647);
        // Two topics, each in order; consumed interleaved arbitrarily, with replays of stretches already consumed.
        const topics = [changes.filter((c) => c.table === 'orders'), changes.filter((c) => c.table === 'customers')];
        const cursors = [0, 0];
        const store = new Store();
        while (cursors[0]! < topics[0]!.length || cursors[1]! < topics[1]!.length) {
          const t = cursors[0]! >= topics[0]!.length ? 1 : cursors[1]! >= topics[1]!.length ? 0 : rnd() < 0.5 ? 0 : 1;
          const topic = topics[t]!;
          const n = 1 + Math.floor(rnd() * 6);
          let from = cursors[t]!;
          if (rnd() < 0.2) from = Math.max(0, from - Math.floor(rnd() * 4)); // a replay after a crash
          const batch = topic.slice(from, from + n);
          cursors[t] = Math.max(cursors[t]!, from + batch.length);
          store.apply(batch);
          // The detail rows: valid exactly when the order is in the join now.
          for (const d of store.lastDetail) expect(d.valid).toBe(d.order.present && d.order.customerId !== -1 && store.customers.get(d.order.customerId)?.present === true);
          const expected = naive(store.mirror());
          expect(store.totals).toEqual(expected.totals);
          expect(store.trend).toEqual(expected.trend);
        }
        const oracle = naive(source);
        expect(store.totals).toEqual(oracle.totals);
        expect(store.trend).toEqual(oracle.trend);
      }),
      { numRuns: 300 },
    );
  });

  it('applies a batch twice as once: the second time every change is a duplicate', () => {
    const { changes } = history(99, 50);
    const store = new Store();
    store.apply(changes);
    const before = structuredClone({ t: store.totals, w: store.trend });
    const orders = new Map(store.orders);
    const customers = new Map(store.customers);
    const again = applyChanges({ orders, customers }, changes);
    expect(again.applied).toBe(0);
    expect(again.duplicates).toBe(changes.length);
    expect(again.totals.size).toBe(0);
    expect({ t: store.totals, w: store.trend }).toEqual(before);
  });

  it('counts an order once its customer arrives, and drops it when the customer is deleted', () => {
    const p = (pos: number) => ({ file: 'b.000001', pos, row: 0 });
    const store = new Store();
    store.apply([{ table: 'orders', orderId: 1, after: { region: 'r', revenueCents: 1234n, customerId: 7, createTimeMs: 0 }, position: p(10) }]);
    expect(store.totals.size).toBe(0);
    store.apply([{ table: 'customers', customerId: 7, present: true, values: { name: 'Grace', age: 31, gender: 'Female' }, position: p(11) }]);
    expect(store.totals.get('r')).toEqual({ count: 1, cents: 1234n });
    store.apply([{ table: 'customers', customerId: 7, present: false, values: { name: 'Grace', age: 31, gender: 'Female' }, position: p(12) }]);
    expect(store.totals.size).toBe(0);
  });
});

describe('decodeChange', () => {
  const source = { file: 'mysql-bin.000001', pos: 100, row: 2 };
  it('reads orders and customers envelopes as rollgate cdc writes them', () => {
    const order = decodeChange(
      'orders',
      JSON.stringify({ op: 'c', before: null, after: { order_id: 5, order_revenue: 12.34, order_region: '深圳', customer_id: 7, create_time: '2026-11-24T08:19:18Z' }, source }),
    );
    expect(order).toEqual({
      ok: true,
      change: { table: 'orders', orderId: 5, after: { region: '深圳', revenueCents: 1234n, customerId: 7, createTimeMs: Date.parse('2026-11-24T08:19:18Z') }, position: { file: 'mysql-bin.000001', pos: 100, row: 2 } },
    });
    expect(decodeChange('orders', JSON.stringify({ op: 'd', before: { order_id: 5 }, after: null, source }))).toMatchObject({ ok: true, change: { orderId: 5, after: null } });
    expect(decodeChange('customers', JSON.stringify({ op: 'd', before: { id: 3 }, after: null, source }))).toMatchObject({ ok: true, change: { customerId: 3, present: false } });
    expect(decodeChange('customers', JSON.stringify({ op: 'r', before: null, after: { id: 3, name: 'Charlie', age: 22, gender: 'Male' }, source }))).toMatchObject({
      ok: true,
      change: { customerId: 3, present: true, values: { name: 'Charlie', age: 22, gender: 'Male' } },
    });
  });

  it('refuses what cannot be applied, with a reason', () => {
    for (const bad of [
      null,
      'not json',
      JSON.stringify({ op: 'x', after: { order_id: 1 }, source }),
      JSON.stringify({ op: 'c', after: null, source }),
      JSON.stringify({ op: 'c', after: { order_region: 'a' }, source }),
      JSON.stringify({ op: 'c', after: { order_id: 1, order_region: 'a', customer_id: 1, order_revenue: 'abc' }, source }),
      JSON.stringify({ op: 'c', after: { order_id: 1, order_region: 'a', customer_id: 1, order_revenue: 1 } }),
    ]) {
      const r = decodeChange('orders', bad);
      expect(r.ok, String(bad)).toBe(false);
    }
  });
});

describe('money to the cent', () => {
  it('rounds the float32 value half away from zero, like CAST(float AS DECIMAL(20,2))', () => {
    expect(revenueCents(12.34)).toBe(1234n);
    expect(revenueCents(0.125)).toBe(13n); // exactly representable: a true half
    expect(revenueCents(1.005)).toBe(100n); // float32 1.005 is 1.00499999523…
    expect(revenueCents(-2.5)).toBe(-250n);
    expect(revenueCents(99999.99)).toBe(9999999n);
    expect(revenueCents('123.455')).toBe(12346n);
    expect(revenueCents(Number.NaN)).toBeUndefined();
  });

  it('never drifts: cents of any 2-decimal amount below 100,000 survive float32', () => {
    fc.assert(
      fc.property(fc.integer({ min: -9_999_999, max: 9_999_999 }), (cents) => {
        const shortest = Number(Math.fround(cents / 100).toPrecision(7)); // what CDC sends (shortest float32 decimal)
        expect(revenueCents(shortest)).toBe(BigInt(cents));
      }),
    );
  });

  it('exactCents matches exact rational arithmetic', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 }), (x) => {
        const c = exactCents(x);
        // |x*100 - c| <= 0.5 checked in doubles with a margin well above their error.
        expect(Math.abs(x * 100 - Number(c))).toBeLessThanOrEqual(0.5 + Math.abs(x) * 1e-13);
      }),
    );
    expect(centsToDecimal(-1205n)).toBe('-12.05');
    expect(centsToDecimal(5n)).toBe('0.05');
  });
});
