import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api';
import {
  applyChanges,
  centsToDecimal,
  changedCustomerIds,
  changedOrderIds,
  neededCustomerIds,
  revenueCents,
  type CustomerState,
  type Delta,
  type OrderState,
  type RegionChange,
} from '../core/region-orders.js';
import { REGION_ORDER_DUCKDB_DDL } from '../dataservice/builtins.js';
import { REGION_ORDER_TABLES, type ApplyResult, type OffsetChange, type RegionOrdersSink } from './region-orders-store.js';

/**
 * The embedded stand-in for the MySQL region-orders sink: the same tables in
 * the embedded DuckDB (the one the gateway reads), the same one-transaction-
 * per-batch rule. One process writes, so batches simply take turns; keys are
 * replaced by delete-then-insert (no PRIMARY KEY: DuckDB refuses to re-insert
 * a key deleted earlier in the same transaction).
 */
export class DuckDbRegionOrdersStore implements RegionOrdersSink {
  private turn: Promise<unknown> = Promise.resolve();

  private constructor(private readonly conn: DuckDBConnection) {}

  static async open(instance: DuckDBInstance): Promise<DuckDbRegionOrdersStore> {
    return new DuckDbRegionOrdersStore(await instance.connect());
  }

  async ensureTables(): Promise<void> {
    for (const ddl of REGION_ORDER_DUCKDB_DDL) await this.conn.run(ddl);
    await this.conn.run(
      `CREATE TABLE IF NOT EXISTS ${REGION_ORDER_TABLES.orders} (order_id INTEGER, present BOOLEAN, order_region VARCHAR, revenue_cents BIGINT,
         customer_id INTEGER, create_time_ms BIGINT, pos_file VARCHAR, pos BIGINT, pos_row INTEGER)`,
    );
    await this.conn.run(
      `CREATE TABLE IF NOT EXISTS ${REGION_ORDER_TABLES.customers} (id INTEGER, present BOOLEAN, name VARCHAR, age INTEGER, gender VARCHAR,
         pos_file VARCHAR, pos BIGINT, pos_row INTEGER)`,
    );
    await this.conn.run(`CREATE TABLE IF NOT EXISTS ${REGION_ORDER_TABLES.offsets} (group_id VARCHAR, topic VARCHAR, "partition" INTEGER, next_offset BIGINT)`);
  }

  async storedOffset(groupId: string, topic: string, partition: number): Promise<number> {
    const rows = await this.rows(`SELECT next_offset FROM ${REGION_ORDER_TABLES.offsets} WHERE group_id = $1 AND topic = $2 AND "partition" = $3`, [groupId, topic, partition]);
    return Number(rows[0]?.['next_offset'] ?? 0);
  }

  apply(groupId: string, topic: string, partition: number, messages: readonly OffsetChange[]): Promise<ApplyResult> {
    const next = this.turn.then(() => this.applyNow(groupId, topic, partition, messages));
    this.turn = next.catch(() => undefined);
    return next;
  }

  private async applyNow(groupId: string, topic: string, partition: number, messages: readonly OffsetChange[]): Promise<ApplyResult> {
    const last = messages.at(-1);
    const resumeAt = await this.storedOffset(groupId, topic, partition);
    const fresh = messages.filter((m) => m.offset >= resumeAt);
    if (last === undefined || fresh.length === 0) return { taken: 0, applied: 0, duplicates: 0, nextOffset: resumeAt, changedResults: false, changedRegions: [] };
    const changes = fresh.flatMap((m) => (m.change === undefined ? [] : [m.change]));
    await this.conn.run('BEGIN TRANSACTION');
    try {
      const outcome = applyChanges(await this.loadPrior(changes), changes);
      const ids = (xs: number[]) => xs.map((x) => String(Math.trunc(x))).join(', ');
      if (outcome.orders.length > 0) {
        await this.conn.run(`DELETE FROM ${REGION_ORDER_TABLES.orders} WHERE order_id IN (${ids(outcome.orders.map((o) => o.orderId))})`);
        for (const o of outcome.orders) {
          await this.conn.run(`INSERT INTO ${REGION_ORDER_TABLES.orders} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [
            o.orderId,
            o.present,
            o.region,
            o.revenueCents,
            o.customerId,
            o.createTimeMs === null ? null : BigInt(o.createTimeMs),
            o.position.file,
            BigInt(o.position.pos),
            o.position.row,
          ]);
        }
      }
      if (outcome.customers.length > 0) {
        await this.conn.run(`DELETE FROM ${REGION_ORDER_TABLES.customers} WHERE id IN (${ids(outcome.customers.map((c) => c.id))})`);
        for (const c of outcome.customers) {
          await this.conn.run(`INSERT INTO ${REGION_ORDER_TABLES.customers} VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
            c.id,
            c.present,
            c.name,
            c.age === null ? null : Math.round(c.age),
            c.gender,
            c.position.file,
            BigInt(c.position.pos),
            c.position.row,
          ]);
        }
      }
      for (const [region, d] of outcome.totals) await this.move(REGION_ORDER_TABLES.totals, 'order_region = $1', [region], d, '$1');
      for (const d of outcome.trend.values()) {
        await this.move(REGION_ORDER_TABLES.trend, 'window_start = make_timestamp($1::BIGINT) AND order_region = $2', [BigInt(d.windowStartMs) * 1000n, d.region], d, 'make_timestamp($1::BIGINT), $2');
      }
      const nextOffset = last.offset + 1;
      await this.conn.run(`DELETE FROM ${REGION_ORDER_TABLES.offsets} WHERE group_id = $1 AND topic = $2 AND "partition" = $3`, [groupId, topic, partition]);
      await this.conn.run(`INSERT INTO ${REGION_ORDER_TABLES.offsets} VALUES ($1, $2, $3, $4)`, [groupId, topic, partition, BigInt(nextOffset)]);
      await this.conn.run('COMMIT');
      return { taken: fresh.length, applied: outcome.applied, duplicates: outcome.duplicates, nextOffset, changedResults: outcome.totals.size > 0 || outcome.trend.size > 0, changedRegions: [...outcome.totals.keys()] };
    } catch (err) {
      await this.conn.run('ROLLBACK');
      throw err;
    }
  }

  /** Adds a delta to one result row in exact cents; a group with no orders left goes, as GROUP BY would not show it. */
  private async move(table: string, match: string, key: DuckDBValue[], d: Delta, keyValues: string): Promise<void> {
    const rows = await this.rows(`SELECT order_cnt, CAST(order_total_revenue AS VARCHAR) AS s FROM ${table} WHERE ${match}`, key);
    const count = Number(rows[0]?.['order_cnt'] ?? 0) + d.count;
    const cents = (rows[0] === undefined ? 0n : (revenueCents(String(rows[0]['s'])) ?? 0n)) + d.cents;
    await this.conn.run(`DELETE FROM ${table} WHERE ${match}`, key);
    if (count === 0) return;
    const n = key.length;
    await this.conn.run(`INSERT INTO ${table} VALUES (${keyValues}, $${n + 1}, CAST($${n + 2} AS DECIMAL(20,2)))`, [...key, BigInt(count), centsToDecimal(cents)]);
  }

  private async loadPrior(changes: readonly RegionChange[]) {
    const orders = new Map<number, OrderState>();
    const inList = (xs: number[]) => (xs.length === 0 ? 'NULL' : xs.map((x) => String(Math.trunc(x))).join(', '));
    const orderRows = await this.rows(
      `SELECT * FROM ${REGION_ORDER_TABLES.orders} WHERE order_id IN (${inList(changedOrderIds(changes))}) OR customer_id IN (${inList(changedCustomerIds(changes))})`,
    );
    for (const r of orderRows) {
      orders.set(Number(r['order_id']), {
        orderId: Number(r['order_id']),
        present: r['present'] === true,
        region: String(r['order_region']),
        revenueCents: BigInt(String(r['revenue_cents'])),
        customerId: Number(r['customer_id']),
        createTimeMs: r['create_time_ms'] === null ? null : Number(r['create_time_ms']),
        position: { file: String(r['pos_file']), pos: Number(r['pos']), row: Number(r['pos_row']) },
      });
    }
    const customers = new Map<number, CustomerState>();
    for (const r of await this.rows(`SELECT * FROM ${REGION_ORDER_TABLES.customers} WHERE id IN (${inList(neededCustomerIds(changes, orders.values()))})`)) {
      customers.set(Number(r['id']), {
        id: Number(r['id']),
        present: r['present'] === true,
        name: r['name'] === null ? null : String(r['name']),
        age: r['age'] === null ? null : Number(r['age']),
        gender: r['gender'] === null ? null : String(r['gender']),
        position: { file: String(r['pos_file']), pos: Number(r['pos']), row: Number(r['pos_row']) },
      });
    }
    return { orders, customers };
  }

  private async rows(statement: string, params: DuckDBValue[] = []): Promise<Array<Record<string, unknown>>> {
    return (await this.conn.runAndReadAll(statement, params)).getRowObjects() as Array<Record<string, unknown>>;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.conn.closeSync();
  }
}
