import mysql, { type Pool, type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import {
  applyChanges,
  centsToDecimal,
  changedCustomerIds,
  changedOrderIds,
  neededCustomerIds,
  type CustomerState,
  type OrderState,
  type RegionChange,
} from '../core/region-orders.js';
import { RollgateError, dependencyUnavailable } from '../errors.js';
import { mysqlEndpoint } from './mysql-url.js';
import type { DetailSink } from './order-detail-clickhouse.js';

/**
 * The region-orders sink in MySQL: the join's mirror state, the totals, the
 * 5-minute trend and the consumed offsets, all in one database and changed
 * in ONE transaction per batch. A batch is therefore either wholly in the
 * store (state, results and the offset after it) or not at all; a crash or
 * a rebalance replays from the stored offset and the skip below drops what
 * is already in. Every batch first locks one row, so two consumers of the
 * group (a zombie after a rebalance, say) never interleave: the second sees
 * the first's offset and skips.
 */

export const REGION_ORDER_TABLES = {
  totals: 'region_order_totals',
  trend: 'region_orders_5min',
  orders: 'region_orders_mirror_orders',
  customers: 'region_orders_mirror_customers',
  offsets: 'region_orders_offsets',
} as const;

const q = (name: string) => `\`${name}\``;
const LOCK_TOPIC = '#lock';
const IN_CHUNK = 1000;

export function regionOrdersDdl(database: string): string[] {
  const t = (name: string) => `${q(database)}.${q(name)}`;
  return [
    `CREATE TABLE IF NOT EXISTS ${t(REGION_ORDER_TABLES.totals)} (
       order_region VARCHAR(40) NOT NULL PRIMARY KEY,
       order_cnt BIGINT NOT NULL,
       order_total_revenue DECIMAL(20,2) NOT NULL
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    `CREATE TABLE IF NOT EXISTS ${t(REGION_ORDER_TABLES.trend)} (
       window_start DATETIME NOT NULL,
       order_region VARCHAR(40) NOT NULL,
       order_cnt BIGINT NOT NULL,
       order_total_revenue DECIMAL(20,2) NOT NULL,
       PRIMARY KEY (window_start, order_region),
       KEY by_region (order_region, window_start)
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    `CREATE TABLE IF NOT EXISTS ${t(REGION_ORDER_TABLES.orders)} (
       order_id INT NOT NULL PRIMARY KEY,
       present TINYINT(1) NOT NULL,
       order_region VARCHAR(40) NOT NULL,
       revenue_cents BIGINT NOT NULL,
       customer_id INT NOT NULL,
       create_time_ms BIGINT NULL,
       pos_file VARCHAR(255) NOT NULL, pos BIGINT UNSIGNED NOT NULL, pos_row INT UNSIGNED NOT NULL,
       KEY by_customer (customer_id)
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    `CREATE TABLE IF NOT EXISTS ${t(REGION_ORDER_TABLES.customers)} (
       id INT NOT NULL PRIMARY KEY,
       present TINYINT(1) NOT NULL,
       name VARCHAR(100) NULL, age INT NULL, gender VARCHAR(16) NULL,
       pos_file VARCHAR(255) NOT NULL, pos BIGINT UNSIGNED NOT NULL, pos_row INT UNSIGNED NOT NULL
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    `CREATE TABLE IF NOT EXISTS ${t(REGION_ORDER_TABLES.offsets)} (
       group_id VARCHAR(255) NOT NULL, topic VARCHAR(255) NOT NULL, \`partition\` INT UNSIGNED NOT NULL,
       next_offset BIGINT UNSIGNED NOT NULL,
       PRIMARY KEY (group_id, topic, \`partition\`)
     ) ENGINE=InnoDB`,
  ];
}

/** One consumed message: its offset, and its change, or undefined when it went to the dead-letter topic. */
export interface OffsetChange {
  offset: number;
  change: RegionChange | undefined;
}

export interface ApplyResult {
  /** Messages at or past the stored offset, now in the store. */
  taken: number;
  applied: number;
  duplicates: number;
  nextOffset: number;
  /** Whether the totals or the trend moved. */
  changedResults: boolean;
  /** The regions whose totals moved. */
  changedRegions: string[];
}

/** What the runner needs of a sink: MySQL for real, DuckDB embedded (src/store/duckdb-region-orders-store.ts). */
export interface RegionOrdersSink {
  ensureTables(): Promise<void>;
  storedOffset(groupId: string, topic: string, partition: number): Promise<number>;
  apply(groupId: string, topic: string, partition: number, messages: readonly OffsetChange[]): Promise<ApplyResult>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class RegionOrdersStore implements RegionOrdersSink {
  private readonly pool: Pool;
  readonly database: string;

  /** `detail`: where the enriched detail rows go (ClickHouse), when configured. */
  constructor(
    url: string,
    private readonly detail?: DetailSink,
  ) {
    const endpoint = mysqlEndpoint(url);
    this.database = endpoint.database;
    this.pool = mysql.createPool({
      host: endpoint.host,
      port: endpoint.port,
      user: endpoint.user,
      password: endpoint.password,
      connectionLimit: 4,
      connectTimeout: 5000,
      charset: 'utf8mb4',
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
  }

  private t(name: string): string {
    return `${q(this.database)}.${q(name)}`;
  }

  async ensureTables(): Promise<void> {
    await this.run(`CREATE DATABASE IF NOT EXISTS ${q(this.database)}`);
    for (const ddl of regionOrdersDdl(this.database)) await this.run(ddl);
    await this.detail?.ensureTable();
  }

  /** The offset a partition resumes from (0 when it has none). */
  async storedOffset(groupId: string, topic: string, partition: number): Promise<number> {
    const [rows] = await this.pool
      .query<RowDataPacket[]>(`SELECT next_offset FROM ${this.t(REGION_ORDER_TABLES.offsets)} WHERE group_id = ? AND topic = ? AND \`partition\` = ?`, [groupId, topic, partition])
      .catch((err: unknown) => {
        throw classify(err);
      });
    return Number(rows[0]?.['next_offset'] ?? 0);
  }

  /** Applies one partition's messages (ascending offsets) and moves its offset, in one transaction. */
  async apply(groupId: string, topic: string, partition: number, messages: readonly OffsetChange[]): Promise<ApplyResult> {
    const last = messages.at(-1);
    if (last === undefined) return { taken: 0, applied: 0, duplicates: 0, nextOffset: 0, changedResults: false, changedRegions: [] };
    let conn: PoolConnection;
    try {
      conn = await this.pool.getConnection();
    } catch (err) {
      throw classify(err);
    }
    try {
      await conn.beginTransaction();
      const offsets = this.t(REGION_ORDER_TABLES.offsets);
      // One statement that takes the lock row exclusively (INSERT IGNORE then UPDATE would take a shared lock
      // first, and two batches holding it would deadlock); its counter numbers the batches: the detail's version.
      await conn.query(
        `INSERT INTO ${offsets} (group_id, topic, \`partition\`, next_offset) VALUES (?, ?, 0, 1) ON DUPLICATE KEY UPDATE next_offset = next_offset + 1`,
        [groupId, LOCK_TOPIC],
      );
      const [lock] = await conn.query<RowDataPacket[]>(`SELECT next_offset FROM ${offsets} WHERE group_id = ? AND topic = ? AND \`partition\` = 0`, [groupId, LOCK_TOPIC]);
      const batchSeq = Number(lock[0]?.['next_offset'] ?? 0);
      const [stored] = await conn.query<RowDataPacket[]>(
        `SELECT next_offset FROM ${offsets} WHERE group_id = ? AND topic = ? AND \`partition\` = ?`,
        [groupId, topic, partition],
      );
      const resumeAt = Number(stored[0]?.['next_offset'] ?? 0);
      const fresh = messages.filter((m) => m.offset >= resumeAt);
      if (fresh.length === 0) {
        await conn.rollback();
        return { taken: 0, applied: 0, duplicates: 0, nextOffset: resumeAt, changedResults: false, changedRegions: [] };
      }
      const changes = fresh.flatMap((m) => (m.change === undefined ? [] : [m.change]));
      const outcome = applyChanges(await this.loadPrior(conn, changes), changes);
      await this.writeOrders(conn, outcome.orders);
      await this.writeCustomers(conn, outcome.customers);
      await this.moveResults(conn, REGION_ORDER_TABLES.totals, [...outcome.totals].map(([region, d]) => ({ key: [region], d })), ['order_region']);
      await this.moveResults(
        conn,
        REGION_ORDER_TABLES.trend,
        [...outcome.trend.values()].map((d) => ({ key: [utcDateTime(d.windowStartMs), d.region], d })),
        ['window_start', 'order_region'],
      );
      const nextOffset = last.offset + 1;
      await conn.query(
        `INSERT INTO ${offsets} (group_id, topic, \`partition\`, next_offset) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE next_offset = VALUES(next_offset)`,
        [groupId, topic, partition, nextOffset],
      );
      // Before the commit: a lost commit replays these orders with a version at least as high (see order-detail-clickhouse.ts).
      await this.detail?.write(outcome.detail, batchSeq);
      await conn.commit();
      return {
        taken: fresh.length,
        applied: outcome.applied,
        duplicates: outcome.duplicates,
        nextOffset,
        changedResults: outcome.totals.size > 0 || outcome.trend.size > 0,
        changedRegions: [...outcome.totals.keys()],
      };
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw classify(err);
    } finally {
      conn.release();
    }
  }

  private async loadPrior(conn: PoolConnection, changes: readonly RegionChange[]) {
    const orders = new Map<number, OrderState>();
    const ordersTable = this.t(REGION_ORDER_TABLES.orders);
    const readOrders = async (column: 'order_id' | 'customer_id', ids: number[]) => {
      for (let i = 0; i < ids.length; i += IN_CHUNK) {
        const chunk = ids.slice(i, i + IN_CHUNK);
        const [rows] = await conn.query<RowDataPacket[]>(`SELECT * FROM ${ordersTable} WHERE ${column} IN (?)`, [chunk]);
        for (const r of rows) orders.set(Number(r['order_id']), orderFromRow(r));
      }
    };
    await readOrders('order_id', changedOrderIds(changes));
    await readOrders('customer_id', changedCustomerIds(changes));
    const customers = new Map<number, CustomerState>();
    const ids = neededCustomerIds(changes, orders.values());
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      const [rows] = await conn.query<RowDataPacket[]>(`SELECT * FROM ${this.t(REGION_ORDER_TABLES.customers)} WHERE id IN (?)`, [ids.slice(i, i + IN_CHUNK)]);
      for (const r of rows) {
        customers.set(Number(r['id']), {
          id: Number(r['id']),
          present: Number(r['present']) === 1,
          name: r['name'] === null ? null : String(r['name']),
          age: r['age'] === null ? null : Number(r['age']),
          gender: r['gender'] === null ? null : String(r['gender']),
          position: positionFromRow(r),
        });
      }
    }
    return { orders, customers };
  }

  private async writeOrders(conn: PoolConnection, orders: readonly OrderState[]): Promise<void> {
    for (let i = 0; i < orders.length; i += 500) {
      const chunk = orders.slice(i, i + 500);
      await conn.query(
        `INSERT INTO ${this.t(REGION_ORDER_TABLES.orders)} (order_id, present, order_region, revenue_cents, customer_id, create_time_ms, pos_file, pos, pos_row) VALUES ?
         ON DUPLICATE KEY UPDATE present = VALUES(present), order_region = VALUES(order_region), revenue_cents = VALUES(revenue_cents),
           customer_id = VALUES(customer_id), create_time_ms = VALUES(create_time_ms), pos_file = VALUES(pos_file), pos = VALUES(pos), pos_row = VALUES(pos_row)`,
        [
          chunk.map((o) => [
            o.orderId,
            o.present ? 1 : 0,
            o.region,
            o.revenueCents.toString(),
            o.customerId,
            o.createTimeMs,
            o.position.file,
            o.position.pos,
            o.position.row,
          ]),
        ],
      );
    }
  }

  private async writeCustomers(conn: PoolConnection, customers: readonly CustomerState[]): Promise<void> {
    if (customers.length === 0) return;
    await conn.query(
      `INSERT INTO ${this.t(REGION_ORDER_TABLES.customers)} (id, present, name, age, gender, pos_file, pos, pos_row) VALUES ?
       ON DUPLICATE KEY UPDATE present = VALUES(present), name = VALUES(name), age = VALUES(age), gender = VALUES(gender), pos_file = VALUES(pos_file), pos = VALUES(pos), pos_row = VALUES(pos_row)`,
      [customers.map((c) => [c.id, c.present ? 1 : 0, c.name, c.age === null ? null : Math.round(c.age), c.gender, c.position.file, c.position.pos, c.position.row])],
    );
  }

  /** Adds deltas in SQL (DECIMAL arithmetic, exact), then drops groups the join no longer has, as GROUP BY would not show them. */
  private async moveResults(
    conn: PoolConnection,
    table: string,
    moves: ReadonlyArray<{ key: Array<string>; d: { count: number; cents: bigint } }>,
    keyColumns: readonly string[],
  ): Promise<void> {
    if (moves.length === 0) return;
    const cols = [...keyColumns, 'order_cnt', 'order_total_revenue'].map(q).join(', ');
    await conn.query(
      `INSERT INTO ${this.t(table)} (${cols}) VALUES ?
       ON DUPLICATE KEY UPDATE order_cnt = order_cnt + VALUES(order_cnt), order_total_revenue = order_total_revenue + VALUES(order_total_revenue)`,
      [moves.map((m) => [...m.key, m.d.count, centsToDecimal(m.d.cents)])],
    );
    const match = keyColumns.map((c) => `${q(c)} = ?`).join(' AND ');
    for (const m of moves) await conn.query(`DELETE FROM ${this.t(table)} WHERE ${match} AND order_cnt = 0`, m.key);
  }

  async ping(): Promise<void> {
    await this.run('SELECT 1');
  }

  async close(): Promise<void> {
    await this.detail?.close();
    await this.pool.end();
  }

  private async run(statement: string): Promise<void> {
    try {
      await this.pool.query(statement);
    } catch (err) {
      throw classify(err);
    }
  }
}

function positionFromRow(r: RowDataPacket) {
  return { file: String(r['pos_file']), pos: Number(r['pos']), row: Number(r['pos_row']) };
}

function orderFromRow(r: RowDataPacket): OrderState {
  const created = r['create_time_ms'] as unknown;
  return {
    orderId: Number(r['order_id']),
    present: Number(r['present']) === 1,
    region: String(r['order_region']),
    revenueCents: BigInt(String(r['revenue_cents'])),
    customerId: Number(r['customer_id']),
    createTimeMs: created === null || created === undefined ? null : Number(created),
    position: positionFromRow(r),
  };
}

function utcDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

function classify(err: unknown): RollgateError {
  if (err instanceof RollgateError) return err;
  const code = (err as { code?: unknown }).code;
  // A deadlock or lock wait is worth retrying like an outage; other server errors are bugs or schema problems.
  if (code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT') return dependencyUnavailable('mysql', err);
  if (typeof code === 'string' && code.startsWith('ER_')) return new RollgateError('INTERNAL', `mysql error ${code}`, { cause: err });
  return dependencyUnavailable('mysql', err);
}
