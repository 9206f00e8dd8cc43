import type { BoundSql, Dialect, ParamType } from '../bound-sql.js';

/** Per-query limits every connector enforces, client- and (where the store can) server-side. */
export interface QueryOptions {
  /** Past this the query is cancelled and fails with QUERY_TIMEOUT. */
  timeoutMs: number;
  /** The store may return at most this many rows (ClickHouse: max_result_rows); callers ask one more than they serve to see a cut. */
  maxRows: number;
  /** Past about this many bytes of rows the query fails with PAYLOAD_TOO_LARGE, while they arrive where the store allows. */
  maxBytes?: number;
}

export interface ResultColumn {
  name: string;
  /** The store's own type name, e.g. `DateTime`, `varchar(64)`, `BIGINT`. */
  nativeType: string;
}

/**
 * Rows as plain JS values: numbers, strings (64-bit integers and decimals may
 * stay strings to keep them exact), booleans, Date for date/time columns, null.
 */
export interface QueryResult {
  columns: ResultColumn[];
  rows: Array<Record<string, unknown>>;
  /**
   * Rows the statement would return without its LIMIT, where the store reports
   * it with the rows (ClickHouse's rows_before_limit_at_least, exact for a
   * statement with ORDER BY or GROUP BY, as every paged DataService query has).
   */
  totalBeforeLimit?: number;
}

export interface TableColumn {
  name: string;
  nativeType: string;
  /** The DataService type a request or response parameter on this column takes, when there is one. */
  paramType: ParamType | undefined;
}

export interface TableInfo {
  name: string;
  columns: TableColumn[];
  /** ClickHouse engines that merge rows (Replacing/Collapsing/Summing/Aggregating MergeTree) must be read with FINAL. */
  readFinal: boolean;
}

/**
 * One named data source's connection. Everything it runs is a read: MySQL
 * queries run in a read-only transaction, ClickHouse queries with readonly=1.
 * Failures are RollgateErrors: QUERY_TIMEOUT, DATASOURCE_ERROR (retriable when
 * the store is unreachable), NOT_FOUND for a missing table.
 */
export interface DataSourceConnector {
  readonly dialect: Dialect;
  /**
   * The store may report totalBeforeLimit along with a page, so the count query waits for the page: when the
   * page comes back without it (a server whose count is not exact), the count runs then.
   */
  readonly countsBeforeLimit: boolean;
  query(query: BoundSql, options: QueryOptions): Promise<QueryResult>;
  /** The SQL as it runs, with every value written as a safely escaped literal: what an admin's test call shows. */
  display(query: BoundSql): string;
  describeTable(table: string): Promise<TableInfo>;
  /** Connectivity test: resolves when the store answers a trivial query. */
  test(): Promise<void>;
  close(): Promise<void>;
}

/** How to reach a data source; stored encrypted in the catalog, passwords never echoed. */
export type DataSourceConfig =
  | { kind: 'clickhouse'; url: string; database: string; user: string; password: string }
  | { kind: 'mysql'; host: string; port: number; database: string; user: string; password: string }
  | { kind: 'duckdb'; path: string };
