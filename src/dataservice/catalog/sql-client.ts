import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api';
import mysql, { type Pool, type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import { dependencyUnavailable, RollgateError } from '../../errors.js';

export type CatalogValue = string | number | null;
export type CatalogRow = Record<string, unknown>;

/**
 * The few statements the catalog needs, with `?` placeholders, over MySQL (a
 * deployment's shared catalog) or the embedded DuckDB. Both speak the same
 * portable subset; `textType` is the one DDL difference.
 */
export interface SqlClient {
  readonly textType: string;
  all(sql: string, params?: readonly CatalogValue[]): Promise<CatalogRow[]>;
  run(sql: string, params?: readonly CatalogValue[]): Promise<void>;
  /** Runs `work` in one transaction; writers take turns. */
  transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class MySqlClient implements SqlClient {
  readonly textType = 'MEDIUMTEXT';

  private constructor(
    private readonly pool: Pool,
    private readonly conn: PoolConnection | undefined,
  ) {}

  /** Opens a pool on the database of `url`, creating the database when missing. */
  static async open(url: string): Promise<MySqlClient> {
    const u = new URL(url);
    const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'rollgate';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new RollgateError('INVALID_CONFIG', 'the MySQL database name must be a plain identifier');
    const options = {
      host: u.hostname,
      port: u.port === '' ? 3306 : Number(u.port),
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      connectTimeout: 5000,
      supportBigNumbers: true,
    };
    try {
      const bootstrap = await mysql.createConnection(options);
      await bootstrap.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
      await bootstrap.end();
    } catch (err) {
      throw dependencyUnavailable('mysql', err);
    }
    return new MySqlClient(mysql.createPool({ ...options, database, connectionLimit: 4 }), undefined);
  }

  async all(sql: string, params: readonly CatalogValue[] = []): Promise<CatalogRow[]> {
    const [rows] = await (this.conn ?? this.pool).query<RowDataPacket[]>(sql, params);
    return rows;
  }

  async run(sql: string, params: readonly CatalogValue[] = []): Promise<void> {
    await (this.conn ?? this.pool).query(sql, params);
  }

  async transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T> {
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      const result = await work(new MySqlClient(this.pool, conn));
      await conn.commit();
      return result;
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw err;
    } finally {
      conn.release();
    }
  }

  async ping(): Promise<void> {
    try {
      await this.pool.query('SELECT 1');
    } catch (err) {
      throw dependencyUnavailable('mysql', err);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

export class DuckDbClient implements SqlClient {
  readonly textType = 'VARCHAR';
  private turn: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly conn: DuckDBConnection,
    private readonly inTransaction: boolean,
  ) {}

  static async open(instance: DuckDBInstance): Promise<DuckDbClient> {
    return new DuckDbClient(await instance.connect(), false);
  }

  all(sql: string, params: readonly CatalogValue[] = []): Promise<CatalogRow[]> {
    return this.serial(async () => {
      const reader = await this.conn.runAndReadAll(sql, params as DuckDBValue[]);
      return reader.getRowObjects().map((row) =>
        Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
      );
    });
  }

  run(sql: string, params: readonly CatalogValue[] = []): Promise<void> {
    return this.serial(async () => {
      await this.conn.run(sql, params as DuckDBValue[]);
    });
  }

  transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T> {
    if (this.inTransaction) return work(this);
    return this.serial(async () => {
      await this.conn.run('BEGIN TRANSACTION');
      try {
        const result = await work(new DuckDbClient(this.conn, true));
        await this.conn.run('COMMIT');
        return result;
      } catch (err) {
        await this.conn.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** One connection: statements outside a transaction must not land inside someone else's. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    if (this.inTransaction) return work();
    const next = this.turn.then(work);
    this.turn = next.catch(() => undefined);
    return next;
  }

  async ping(): Promise<void> {
    await this.conn.run('SELECT 1');
  }

  async close(): Promise<void> {
    this.conn.closeSync();
  }
}
