import type { ChangeEnvelope } from './cdc/change-event.js';
import { compareBinlogPositions, type BinlogPosition } from './cdc/offset.js';

/**
 * Regional order totals and 5-minute trend over the inner join of seed 002,
 * maintained from Debezium change events of `orders` and `customers`. Pure:
 * the caller loads the prior state of the rows a batch touches, this module
 * says what that state becomes and how every total moves.
 *
 *   SELECT o.order_region, count(*), sum(o.order_revenue)
 *   FROM orders o JOIN customers c ON c.id = o.customer_id
 *   WHERE c.id <> -1 GROUP BY o.order_region
 *
 * The join needs the current state of both tables, so that state (a mirror:
 * per order its region, revenue, customer and create_time; per customer
 * whether it exists) is kept durable by the caller, not in memory. An order's
 * contribution is a function of the mirror alone, so a total moves by exactly
 * contribution(after) − contribution(before) for each order a batch affects
 * (retraction then accumulation). Applying the deltas keeps the invariant
 * "totals = the join over the mirror", whatever order the two topics'
 * changes arrive in; once the mirror equals the source (quiescence), so do
 * the totals.
 *
 * Every mirrored row keeps the binlog position of the change it last took.
 * A change at or before that position is a duplicate (a replay, a repeated
 * snapshot record) and changes nothing. Deleted rows stay as tombstones so a
 * late duplicate of an older change cannot bring them back.
 */

export const TREND_WINDOW_MS = 300_000;

export interface OrderState {
  orderId: number;
  present: boolean;
  region: string;
  /** order_revenue in cents: the FLOAT rounded half away from zero, as MySQL's CAST(order_revenue AS DECIMAL(…,2)) does. */
  revenueCents: bigint;
  customerId: number;
  /** create_time in epoch ms; null when the column is NULL (such an order is in the totals but in no trend window). */
  createTimeMs: number | null;
  position: BinlogPosition;
}

export interface CustomerState {
  id: number;
  present: boolean;
  /** The columns the detail table carries (seed 002's dwd_order_customer_valid). */
  name: string | null;
  age: number | null;
  gender: string | null;
  position: BinlogPosition;
}

export type CustomerValues = Pick<CustomerState, 'name' | 'age' | 'gender'>;

/** One row of the enriched detail (the join's rows): every order a batch may have moved, valid or not. */
export interface DetailRow {
  orderId: number;
  /** The order's last known values (zeros for an order never seen). */
  order: OrderState;
  customer: CustomerState | undefined;
  /** In the join now; false means the detail row is deleted. */
  valid: boolean;
}

export type OrderValues = Omit<OrderState, 'orderId' | 'present' | 'position'>;

export type RegionChange =
  | { table: 'orders'; orderId: number; after: OrderValues | null; position: BinlogPosition }
  | { table: 'customers'; customerId: number; present: boolean; values: CustomerValues; position: BinlogPosition };

export interface Delta {
  count: number;
  cents: bigint;
}

export interface TrendKey {
  windowStartMs: number;
  region: string;
}

export interface BatchOutcome {
  /** Mirror rows to write (the new state of every row a change was applied to). */
  orders: OrderState[];
  customers: CustomerState[];
  /** Non-zero moves of the totals per region. */
  totals: Map<string, Delta>;
  /** Non-zero moves per (5-minute window of create_time, region), keyed by trendKey(). */
  trend: Map<string, Delta & TrendKey>;
  /** The detail row of every affected order, in the state after the batch. */
  detail: DetailRow[];
  applied: number;
  duplicates: number;
}

export interface Contribution {
  region: string;
  cents: bigint;
  windowStartMs: number | null;
}

/** The join's WHERE and ON: an order counts while it exists and its customer exists with an id other than -1. */
export function contribution(order: OrderState | undefined, customers: ReadonlyMap<number, CustomerState>): Contribution | undefined {
  if (order === undefined || !order.present || order.customerId === -1) return undefined;
  if (customers.get(order.customerId)?.present !== true) return undefined;
  return { region: order.region, cents: order.revenueCents, windowStartMs: order.createTimeMs === null ? null : windowStart(order.createTimeMs) };
}

export function windowStart(ms: number): number {
  return Math.floor(ms / TREND_WINDOW_MS) * TREND_WINDOW_MS;
}

export function trendKey(k: TrendKey): string {
  return `${k.windowStartMs}\u0000${k.region}`;
}

/** Order ids whose prior state a batch needs: those it changes. Orders of changed customers come from ordersOfCustomers(). */
export function changedOrderIds(changes: readonly RegionChange[]): number[] {
  return [...new Set(changes.flatMap((c) => (c.table === 'orders' ? [c.orderId] : [])))];
}

export function changedCustomerIds(changes: readonly RegionChange[]): number[] {
  return [...new Set(changes.flatMap((c) => (c.table === 'customers' ? [c.customerId] : [])))];
}

/** Customers whose prior state a batch needs: the changed ones and every customer an affected order points at, before or after. */
export function neededCustomerIds(changes: readonly RegionChange[], priorOrders: Iterable<OrderState>): number[] {
  const ids = new Set(changedCustomerIds(changes));
  for (const o of priorOrders) ids.add(o.customerId);
  for (const c of changes) if (c.table === 'orders' && c.after !== null) ids.add(c.after.customerId);
  return [...ids];
}

/**
 * Applies `changes` (in consumed order) to `prior`, which must hold the prior
 * state of every changed order, of every order whose customer changes, and of
 * every customer in neededCustomerIds() — absent from the maps means absent
 * from the mirror. `prior` is not modified.
 */
export function applyChanges(
  prior: { orders: ReadonlyMap<number, OrderState>; customers: ReadonlyMap<number, CustomerState> },
  changes: readonly RegionChange[],
): BatchOutcome {
  const orders = new Map(prior.orders);
  const customers = new Map(prior.customers);
  const touchedOrders = new Set<number>();
  const touchedCustomers = new Set<number>();
  let applied = 0;
  let duplicates = 0;
  for (const change of changes) {
    if (change.table === 'orders') {
      const current = orders.get(change.orderId);
      if (current !== undefined && compareBinlogPositions(change.position, current.position) <= 0) {
        duplicates += 1;
        continue;
      }
      orders.set(
        change.orderId,
        change.after === null
          ? { ...(current ?? { region: '', revenueCents: 0n, customerId: 0, createTimeMs: null }), orderId: change.orderId, present: false, position: change.position }
          : { ...change.after, orderId: change.orderId, present: true, position: change.position },
      );
      touchedOrders.add(change.orderId);
    } else {
      const current = customers.get(change.customerId);
      if (current !== undefined && compareBinlogPositions(change.position, current.position) <= 0) {
        duplicates += 1;
        continue;
      }
      customers.set(change.customerId, { id: change.customerId, present: change.present, ...change.values, position: change.position });
      touchedCustomers.add(change.customerId);
    }
    applied += 1;
  }

  // Every order whose contribution may have moved: changed orders, and orders (before or after) of changed customers.
  const affected = new Set(touchedOrders);
  for (const map of [prior.orders, orders]) {
    for (const o of map.values()) if (touchedCustomers.has(o.customerId)) affected.add(o.orderId);
  }
  const totals = new Map<string, Delta>();
  const trend = new Map<string, Delta & TrendKey>();
  const add = (c: Contribution | undefined, sign: 1 | -1) => {
    if (c === undefined) return;
    const t = totals.get(c.region) ?? { count: 0, cents: 0n };
    t.count += sign;
    t.cents += BigInt(sign) * c.cents;
    totals.set(c.region, t);
    if (c.windowStartMs === null) return;
    const key = trendKey({ windowStartMs: c.windowStartMs, region: c.region });
    const w = trend.get(key) ?? { windowStartMs: c.windowStartMs, region: c.region, count: 0, cents: 0n };
    w.count += sign;
    w.cents += BigInt(sign) * c.cents;
    trend.set(key, w);
  };
  const detail: DetailRow[] = [];
  for (const id of affected) {
    add(contribution(prior.orders.get(id), prior.customers), -1);
    const now = orders.get(id);
    const joined = contribution(now, customers);
    add(joined, 1);
    if (now !== undefined) detail.push({ orderId: id, order: now, customer: customers.get(now.customerId), valid: joined !== undefined });
  }
  for (const [k, d] of totals) if (d.count === 0 && d.cents === 0n) totals.delete(k);
  for (const [k, d] of trend) if (d.count === 0 && d.cents === 0n) trend.delete(k);
  return {
    orders: [...touchedOrders].map((id) => orders.get(id)).filter((o): o is OrderState => o !== undefined),
    customers: [...touchedCustomers].map((id) => customers.get(id)).filter((c): c is CustomerState => c !== undefined),
    totals,
    trend,
    detail,
    applied,
    duplicates,
  };
}

export type DecodedChange = { ok: true; change: RegionChange } | { ok: false; reason: string };

/**
 * A Debezium envelope of `orders` or `customers` (as `rollgate cdc` writes
 * them) as a change of the mirror. Anything that cannot be applied — unknown
 * op, missing key or image, a value of the wrong type — is refused with a
 * reason, for the dead-letter topic.
 */
export function decodeChange(table: 'orders' | 'customers', value: Buffer | string | null): DecodedChange {
  if (value === null) return { ok: false, reason: 'value: a tombstone or empty message; change events only' };
  let envelope: ChangeEnvelope;
  try {
    envelope = JSON.parse(typeof value === 'string' ? value : value.toString('utf8')) as ChangeEnvelope;
  } catch {
    return { ok: false, reason: 'value: not JSON' };
  }
  if (typeof envelope !== 'object' || envelope === null) return { ok: false, reason: 'value: not a change-event envelope' };
  const source = envelope.source as Partial<ChangeEnvelope['source']> | undefined;
  if (typeof source?.file !== 'string' || !Number.isSafeInteger(source.pos) || !Number.isSafeInteger(source.row)) {
    return { ok: false, reason: 'source: file, pos and row (the binlog position) are required' };
  }
  const position: BinlogPosition = { file: source.file, pos: source.pos as number, row: source.row as number };
  const op = envelope.op as unknown;
  if (op !== 'c' && op !== 'r' && op !== 'u' && op !== 'd') return { ok: false, reason: `op: must be c, r, u or d, got ${JSON.stringify(op)}` };
  const image = op === 'd' ? envelope.before : envelope.after;
  if (typeof image !== 'object' || image === null) return { ok: false, reason: `${op === 'd' ? 'before' : 'after'}: required for op ${op}` };
  const keyColumn = table === 'orders' ? 'order_id' : 'id';
  const id = image[keyColumn];
  if (typeof id !== 'number' || !Number.isSafeInteger(id)) return { ok: false, reason: `${keyColumn}: the key is missing or not an integer` };
  if (table === 'customers') {
    const text = (v: unknown) => (typeof v === 'string' ? v : null);
    const age = image['age'];
    const values = { name: text(image['name']), age: typeof age === 'number' && Number.isFinite(age) ? age : null, gender: text(image['gender']) };
    return { ok: true, change: { table, customerId: id, present: op !== 'd', values, position } };
  }
  if (op === 'd') return { ok: true, change: { table, orderId: id, after: null, position } };
  const region = image['order_region'];
  if (typeof region !== 'string') return { ok: false, reason: 'order_region: must be a string' };
  const customerId = image['customer_id'];
  if (typeof customerId !== 'number' || !Number.isSafeInteger(customerId)) return { ok: false, reason: 'customer_id: must be an integer' };
  const revenue = image['order_revenue'];
  const cents = revenueCents(revenue);
  if (cents === undefined) return { ok: false, reason: 'order_revenue: must be a finite number' };
  const created = image['create_time'];
  let createTimeMs: number | null = null;
  if (created !== null && created !== undefined) {
    createTimeMs = typeof created === 'number' ? created : typeof created === 'string' ? Date.parse(created) : Number.NaN;
    if (!Number.isFinite(createTimeMs)) return { ok: false, reason: 'create_time: must be an ISO-8601 time or epoch ms' };
  }
  return { ok: true, change: { table, orderId: id, after: { region, revenueCents: cents, customerId, createTimeMs }, position } };
}

/**
 * order_revenue is a FLOAT (float32) in seed 002. CDC sends the shortest
 * decimal that reads back as the same float32, so Math.fround recovers the
 * stored value exactly; its exact binary value is then rounded half away
 * from zero to cents, which is what MySQL's CAST(order_revenue AS
 * DECIMAL(20,2)) gives. (A float32 is never within 1e-9 relative of a
 * half-cent without being one, so this agrees with MySQL's 15-digit
 * conversion too.) A DECIMAL column's exact string is read as written.
 */
export function revenueCents(value: unknown): bigint | undefined {
  if (typeof value === 'string') return decimalStringCents(value);
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  return exactCents(Math.fround(value));
}

/** A finite double's exact value times 100, rounded half away from zero. */
export function exactCents(x: number): bigint {
  if (x === 0) return 0n;
  const negative = x < 0;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const exponentBits = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const mantissa = exponentBits === 0 ? fraction : fraction | (1n << 52n);
  const exponent = (exponentBits === 0 ? 1 : exponentBits) - 1075;
  let cents: bigint;
  if (exponent >= 0) {
    cents = mantissa * 100n * (1n << BigInt(exponent));
  } else {
    const den = 1n << BigInt(-exponent);
    const num = mantissa * 100n;
    cents = num / den;
    if ((num % den) * 2n >= den) cents += 1n;
  }
  return negative ? -cents : cents;
}

function decimalStringCents(text: string): bigint | undefined {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (m === null) return undefined;
  const digits = (m[3] ?? '').padEnd(3, '0');
  let cents = BigInt(m[2] ?? '0') * 100n + BigInt(digits.slice(0, 2));
  if (Number(digits[2]) >= 5) cents += 1n;
  return m[1] === '-' ? -cents : cents;
}

/** Cents as an exact decimal string, `-12.05`. */
export function centsToDecimal(cents: bigint): string {
  const negative = cents < 0n;
  const abs = negative ? -cents : cents;
  return `${negative ? '-' : ''}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
}
