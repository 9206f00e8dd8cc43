import type { DuckDBInstance } from '@duckdb/node-api';
import { ClickHouseConnector } from './clickhouse-connector.js';
import type { DataSourceConfig, DataSourceConnector } from './connector.js';
import { MySqlConnector } from './mysql-connector.js';

/** What several connectors may read together: the embedded store's DuckDB instance. */
export interface SharedResources {
  duckdb?: DuckDBInstance;
}

/**
 * The connector for one named data source. Nothing connects yet: pools and
 * clients open on first use. A DuckDB source reads `shared.duckdb` when given
 * (the gateway's built-in source over the embedded store) and opens its own
 * `path` otherwise.
 */
export async function createConnector(name: string, config: DataSourceConfig, shared: SharedResources = {}): Promise<DataSourceConnector> {
  switch (config.kind) {
    case 'clickhouse':
      return new ClickHouseConnector(name, config);
    case 'mysql':
      return new MySqlConnector(name, config);
    case 'duckdb': {
      // Loaded only when used: DuckDB is a native module that real deployments never need.
      const { DuckDbConnector } = await import('./duckdb-connector.js');
      return shared.duckdb === undefined ? DuckDbConnector.open(name, config.path) : DuckDbConnector.shared(name, shared.duckdb);
    }
    default: {
      const unknown: never = config;
      throw new Error(`unknown data source kind ${String((unknown as { kind?: unknown }).kind)}`);
    }
  }
}
