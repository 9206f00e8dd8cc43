import mysql, { type Pool } from 'mysql2/promise';
import type { Logger } from '../logger.js';
import { mysqlEndpoint } from '../store/mysql-url.js';
import { seededRandom } from './metrics-producer.js';
import { OrdersGenerator, type NewOrder, type OrderSink } from './orders-generator.js';

/**
 * The order pipeline's source tables, `orders` and `customers`, exactly as
 * seed 002 creates them, and its 100 customers. The DDL here is the source
 * of schema/mysql/orders.sql and customers.sql (`npm run schema`).
 *
 * Kept from the seed on purpose: `order_revenue` is FLOAT (values reach
 * Kafka as the shortest decimal of the stored float32; the generator writes
 * whole amounts, which a float holds exactly). Added: ENGINE=InnoDB, which a
 * consistent snapshot needs, and utf8mb4, which the seed's city names need.
 */

export interface Customer {
  id: number;
  name: string;
  age: number;
  gender: 'Male' | 'Female';
}

const CUSTOMER_ROWS: ReadonlyArray<readonly [number, string, number, 'Male' | 'Female']> = [
  [1, 'Alice', 28, 'Female'],
  [2, 'Bob', 34, 'Male'],
  [3, 'Charlie', 22, 'Male'],
  [4, 'David', 30, 'Male'],
  [5, 'Eve', 25, 'Female'],
  [6, 'Faythe', 29, 'Female'],
  [7, 'Grace', 31, 'Female'],
  [8, 'Heidi', 27, 'Female'],
  [9, 'Ivan', 26, 'Male'],
  [10, 'Judy', 24, 'Female'],
  [11, 'Karl', 32, 'Male'],
  [12, 'Leo', 33, 'Male'],
  [13, 'Mallory', 21, 'Female'],
  [14, 'Nina', 29, 'Female'],
  [15, 'Oscar', 35, 'Male'],
  [16, 'Peggy', 28, 'Female'],
  [17, 'Quentin', 34, 'Male'],
  [18, 'Rupert', 22, 'Male'],
  [19, 'Sybil', 30, 'Female'],
  [20, 'Trent', 25, 'Male'],
  [21, 'Uma', 29, 'Female'],
  [22, 'Victor', 31, 'Male'],
  [23, 'Walter', 27, 'Male'],
  [24, 'Xander', 26, 'Male'],
  [25, 'Yvonne', 24, 'Female'],
  [26, 'Zach', 32, 'Male'],
  [27, 'Amy', 33, 'Female'],
  [28, 'Brian', 21, 'Male'],
  [29, 'Cathy', 29, 'Female'],
  [30, 'Dylan', 35, 'Male'],
  [31, 'Elaine', 28, 'Female'],
  [32, 'Frank', 34, 'Male'],
  [33, 'Gina', 22, 'Female'],
  [34, 'Hank', 30, 'Male'],
  [35, 'Isla', 25, 'Female'],
  [36, 'Jack', 29, 'Male'],
  [37, 'Karen', 31, 'Female'],
  [38, 'Liam', 27, 'Male'],
  [39, 'Mona', 26, 'Female'],
  [40, 'Nate', 24, 'Male'],
  [41, 'Olivia', 32, 'Female'],
  [42, 'Pete', 33, 'Male'],
  [43, 'Quincy', 21, 'Male'],
  [44, 'Rita', 29, 'Female'],
  [45, 'Sam', 35, 'Male'],
  [46, 'Tina', 28, 'Female'],
  [47, 'Ulysses', 34, 'Male'],
  [48, 'Vera', 22, 'Female'],
  [49, 'Walt', 30, 'Male'],
  [50, 'Xenia', 25, 'Female'],
  [51, 'Yale', 29, 'Male'],
  [52, 'Zoe', 31, 'Female'],
  [53, 'Aidan', 27, 'Male'],
  [54, 'Bella', 26, 'Female'],
  [55, 'Caden', 24, 'Male'],
  [56, 'Daria', 32, 'Female'],
  [57, 'Eli', 33, 'Male'],
  [58, 'Fiona', 21, 'Female'],
  [59, 'Gabe', 29, 'Male'],
  [60, 'Holly', 35, 'Female'],
  [61, 'Ian', 28, 'Male'],
  [62, 'Jenna', 34, 'Female'],
  [63, 'Kyle', 22, 'Male'],
  [64, 'Lena', 30, 'Female'],
  [65, 'Mason', 25, 'Male'],
  [66, 'Nora', 29, 'Female'],
  [67, 'Owen', 31, 'Male'],
  [68, 'Paula', 27, 'Female'],
  [69, 'Quinn', 26, 'Male'],
  [70, 'Ralph', 24, 'Male'],
  [71, 'Sara', 32, 'Female'],
  [72, 'Tom', 33, 'Male'],
  [73, 'Una', 21, 'Female'],
  [74, 'Vince', 29, 'Male'],
  [75, 'Wendy', 35, 'Female'],
  [76, 'Xavier', 28, 'Male'],
  [77, 'Yara', 34, 'Female'],
  [78, 'Zane', 22, 'Male'],
  [79, 'Ann', 30, 'Female'],
  [80, 'Ben', 25, 'Male'],
  [81, 'Cindy', 29, 'Female'],
  [82, 'Derek', 31, 'Male'],
  [83, 'Elisa', 27, 'Female'],
  [84, 'Fred', 26, 'Male'],
  [85, 'Gwen', 24, 'Female'],
  [86, 'Harry', 32, 'Male'],
  [87, 'Isabel', 33, 'Female'],
  [88, 'Jonah', 21, 'Male'],
  [89, 'Kara', 29, 'Female'],
  [90, 'Luke', 35, 'Male'],
  [91, 'Maya', 28, 'Female'],
  [92, 'Nick', 34, 'Male'],
  [93, 'Olga', 22, 'Female'],
  [94, 'Paul', 30, 'Male'],
  [95, 'Quilla', 25, 'Female'],
  [96, 'Reed', 29, 'Male'],
  [97, 'Sophie', 31, 'Female'],
  [98, 'Theo', 27, 'Male'],
  [99, 'Ursula', 26, 'Female'],
  [100, 'Vlad', 24, 'Male'],
];

/** Seed 002's customers: ids 1-100. */
export const CUSTOMERS: readonly Customer[] = CUSTOMER_ROWS.map(([id, name, age, gender]) => ({ id, name, age, gender }));

const q = (name: string) => `\`${name}\``;

export function ordersDdl(database: string): string {
  return `CREATE TABLE IF NOT EXISTS ${q(database)}.${q('orders')} (
    order_id INT NOT NULL AUTO_INCREMENT,
    order_revenue FLOAT NOT NULL,
    order_region VARCHAR(40) NOT NULL,
    customer_id INT NOT NULL,
    create_time TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY ( order_id )
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;
}

export function customersDdl(database: string): string {
  return `CREATE TABLE IF NOT EXISTS ${q(database)}.${q('customers')} (
    id INT AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(100),
    age INT,
    gender ENUM('Male', 'Female')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;
}

/**
 * Loads the 100 customers. INSERT IGNORE makes it idempotent: a second load
 * neither duplicates nor overwrites (a customer edited since keeps its edit),
 * and writes no binlog rows for customers already there.
 */
export function customersSeedSql(database: string): string {
  const values = CUSTOMERS.map((c) => `(${c.id}, '${c.name}', ${c.age}, '${c.gender}')`).join(',\n  ');
  return `INSERT IGNORE INTO ${q(database)}.${q('customers')} (id, name, age, gender) VALUES\n  ${values}`;
}

/** Creates the database (utf8mb4) and both tables if missing, and loads the customers. Idempotent. */
export async function ensureOrdersSource(pool: Pool, database: string): Promise<void> {
  await pool.query(`CREATE DATABASE IF NOT EXISTS ${q(database)} DEFAULT CHARACTER SET utf8mb4`);
  await pool.query(customersDdl(database));
  await pool.query(ordersDdl(database));
  await pool.query(customersSeedSql(database));
}

/** Inserts generated orders into `<database>.orders`, one statement per batch. */
export class MySqlOrderSink implements OrderSink {
  constructor(
    private readonly pool: Pool,
    private readonly database: string,
  ) {}

  async insertOrders(orders: readonly NewOrder[]): Promise<void> {
    if (orders.length === 0) return;
    await this.pool.query(`INSERT INTO ${q(this.database)}.${q('orders')} (order_revenue, order_region, customer_id) VALUES ?`, [
      orders.map((o) => [o.order_revenue, o.order_region, o.customer_id]),
    ]);
  }
}

export interface RunningOrdersGenerator {
  generator: OrdersGenerator;
  /** Stops inserting and closes the connection pool. */
  stop(): Promise<void>;
}

/**
 * The demo order generator against the MySQL of `mysqlUrl`: creates the
 * source tables and customers when missing, then inserts `ratePerSecond`
 * random orders a second. What `rollgate orders-generator` runs, and what an
 * in-process demo can call.
 */
export async function startOrdersGenerator(options: {
  mysqlUrl: string;
  ratePerSecond: number;
  seed: number;
  maxOrders?: number;
  logger: Logger;
}): Promise<RunningOrdersGenerator> {
  const endpoint = mysqlEndpoint(options.mysqlUrl);
  const pool = mysql.createPool({
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    password: endpoint.password,
    connectionLimit: 2,
    connectTimeout: 5000,
    charset: 'utf8mb4',
  });
  try {
    await ensureOrdersSource(pool, endpoint.database);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  const generator = new OrdersGenerator(
    new MySqlOrderSink(pool, endpoint.database),
    { ratePerSecond: options.ratePerSecond, random: seededRandom(options.seed), ...(options.maxOrders === undefined ? {} : { maxOrders: options.maxOrders }) },
    options.logger,
  );
  generator.start();
  return {
    generator,
    stop: async () => {
      await generator.stop();
      await pool.end();
    },
  };
}
