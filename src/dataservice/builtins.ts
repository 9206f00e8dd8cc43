import type { DuckDBInstance } from '@duckdb/node-api';
import { regionOrders } from '../../aggregators/region-orders.js';
import type { Config } from '../config.js';
import type { ColumnType, RollupSpec } from '../core/rollup-spec.js';
import type { BuiltinApi } from './api-service.js';
import type { ParamType } from './bound-sql.js';
import type { BuiltinDataSource } from './data-sources.js';
import type { DataSourceConfig, DataSourceConnector } from './datasources/connector.js';
import { createConnector } from './datasources/index.js';
import type { ScriptDefinition, WizardDefinition } from './definition.js';
import { cpuMem5min } from '../../aggregators/cpu-mem-5min.js';

/**
 * What the deployment brings without any admin action: its rollup stores as
 * data sources, and each rollup as a published API over them.
 */

/** The data source holding a rollup store's tables; embedded DuckDB stands in for either when unset. */
export function builtinSourceName(store: RollupSpec['sink']['store']): string {
  return store === 'clickhouse' ? 'builtin_clickhouse' : 'builtin_mysql';
}

const PARAM_TYPE: Record<ColumnType, ParamType> = { string: 'STRING', uint32: 'LONG', uint64: 'LONG', int64: 'LONG', float64: 'DOUBLE' };

/**
 * Each rollup is an ordinary published wizard API over its table: equality on
 * every group column, `from`/`to` on the window start, `final`, newest window
 * first. Rows keep the shape the foundation served at `/api/<rollup>`.
 */
export function builtinRollupApi(spec: RollupSpec): BuiltinApi {
  const columnType = (name: string): ParamType => {
    const field = spec.source.fields.find((f) => f.name === name);
    return field === undefined || field.type === 'timestamp' ? 'STRING' : PARAM_TYPE[field.type];
  };
  const definition: WizardDefinition = {
    mode: 'wizard',
    name: spec.name.replace(/-/g, '_'),
    group: 'rollups',
    path: `/${spec.name}`,
    method: 'GET',
    description: spec.description,
    dataSource: builtinSourceName(spec.sink.store),
    table: spec.sink.table,
    pagination: true,
    datav: false,
    requestParams: [
      ...spec.groupBy.map((g) => ({
        name: g,
        column: g,
        type: columnType(g),
        operator: '=' as const,
        required: false,
        description: `Only rows of this ${g}`,
      })),
      { name: 'from', column: 'window_start', type: 'DATETIME', operator: '>=', required: false, description: 'Windows starting at or after this time' },
      { name: 'to', column: 'window_start', type: 'DATETIME', operator: '<', required: false, description: 'Windows starting before this time' },
      { name: 'final', column: 'final', type: 'BOOLEAN', operator: '=', required: false, description: 'true: closed windows only; false: open (partial) windows only' },
    ],
    responseParams: [
      { column: 'window_start', type: 'DATETIME', description: 'Window start, UTC' },
      ...spec.groupBy.map((g) => ({ column: g, type: columnType(g), description: 'Group key' })),
      ...spec.measures.map((m) => ({ column: m.name, type: PARAM_TYPE[m.type], description: m.description })),
      { column: 'final', type: 'BOOLEAN', description: 'The window is closed and will not change' },
    ],
    sort: [{ column: 'window_start', order: 'DESC' }, ...spec.groupBy.map((g) => ({ column: g, order: 'ASC' as const }))],
  };
  return { id: `builtin-${spec.name}`, definition };
}

/**
 * The rollup stores as data sources `builtin_clickhouse` and `builtin_mysql`;
 * where a store is not configured, the embedded DuckDB that stands in for it
 * (the same instance the aggregators write, so reads see their rows).
 */
export function builtinDataSources(config: Config, embedded: () => Promise<DuckDBInstance>): BuiltinDataSource[] {
  return (['clickhouse', 'mysql'] as const).map((kind) => {
    const name = builtinSourceName(kind);
    const source = storeConfig(config, kind);
    let opening: Promise<DataSourceConnector> | undefined;
    const connector = (): Promise<DataSourceConnector> => {
      if (opening === undefined) {
        const attempt = (async () =>
          source.kind === 'duckdb' ? createConnector(name, source, { duckdb: await embedded() }) : createConnector(name, source))();
        opening = attempt;
        attempt.catch(() => {
          if (opening === attempt) opening = undefined;
        });
      }
      return opening;
    };
    return {
      name,
      description: `the ${kind} rollup store${source.kind === 'duckdb' ? ' (embedded DuckDB stands in)' : ''}`,
      config: source,
      connector,
      close: async () => {
        const open = opening;
        opening = undefined;
        if (open !== undefined) await (await open.catch(() => undefined))?.close();
      },
    };
  });
}

function storeConfig(config: Config, kind: 'clickhouse' | 'mysql'): DataSourceConfig {
  if (kind === 'clickhouse' && config.clickhouse !== undefined) return { kind: 'clickhouse', ...config.clickhouse };
  if (kind === 'mysql' && config.mysql !== undefined) {
    const u = new URL(config.mysql.url);
    return {
      kind: 'mysql',
      host: u.hostname,
      port: u.port === '' ? 3306 : Number(u.port),
      database: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'rollgate',
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
    };
  }
  return { kind: 'duckdb', path: config.duckdb.path };
}

/**
 * The region-orders results (seed 002) as two published APIs over the MySQL
 * store (embedded DuckDB when unset). Revenue is DECIMAL(20,2) in the store
 * and answered as a JSON number: every total below 2^53 cents prints as its
 * exact two-decimal value.
 */
export function builtinRegionOrderApis(): BuiltinApi[] {
  const dataSource = builtinSourceName('mysql');
  const measures = [
    { column: 'order_cnt', type: 'LONG' as const, description: 'Orders with a customer (inner join, customer id <> -1)' },
    { column: 'order_total_revenue', type: 'DOUBLE' as const, description: 'Sum of order_revenue, exact to the cent' },
  ];
  const region = { name: 'region', column: 'order_region', type: 'STRING' as const, operator: '=' as const, required: false, description: 'Only this order_region' };
  const totals: WizardDefinition = {
    mode: 'wizard',
    name: 'region_order_totals',
    group: 'rollups',
    path: '/region-order-totals',
    method: 'GET',
    description: regionOrders.description.split(',')[0] ?? regionOrders.description,
    dataSource,
    table: regionOrders.tables.totals,
    pagination: false,
    datav: false,
    requestParams: [region],
    responseParams: [{ column: 'order_region', type: 'STRING', description: 'order_region of the orders' }, ...measures],
    sort: [{ column: 'order_region', order: 'ASC' }],
  };
  const trend: WizardDefinition = {
    mode: 'wizard',
    name: 'region_order_trend',
    group: 'rollups',
    path: '/region-order-trend',
    method: 'GET',
    description: 'Order count and revenue per region and 5-minute window of create_time, oldest first',
    dataSource,
    table: regionOrders.tables.trend,
    pagination: false,
    datav: false,
    maxRows: 100_000,
    requestParams: [
      region,
      { name: 'from', column: 'window_start', type: 'DATETIME', operator: '>=', required: false, description: 'Windows starting at or after this time' },
      { name: 'to', column: 'window_start', type: 'DATETIME', operator: '<', required: false, description: 'Windows starting before this time' },
    ],
    responseParams: [
      { column: 'window_start', type: 'DATETIME', description: 'Window start (UTC), create_time rounded down to 5 minutes' },
      { column: 'order_region', type: 'STRING', description: 'order_region of the orders' },
      ...measures,
    ],
    sort: [
      { column: 'window_start', order: 'ASC' },
      { column: 'order_region', order: 'ASC' },
    ],
  };
  return [
    { id: 'builtin-region-order-totals', definition: totals },
    { id: 'builtin-region-order-trend', definition: trend },
  ];
}

/**
 * Host-level views of cpu-mem-5min, the dashboard's two questions: which hosts
 * run hottest over a time range, and one host's CPU and memory maxima per
 * window (the maximum over its processes). Scripts in SQL that ClickHouse
 * 18.16+, and DuckDB standing in for it, both run. They read only maxima, so
 * they need no FINAL: a window's later partial rows only ever raise them, and
 * max() over every stored version of a window is its newest value.
 */
export function builtinHostApis(): BuiltinApi[] {
  const table = cpuMem5min.sink.table;
  const dataSource = builtinSourceName(cpuMem5min.sink.store);
  const range = [
    { name: 'from', type: 'DATETIME' as const, required: true, description: 'Windows starting at or after this time' },
    { name: 'to', type: 'DATETIME' as const, required: false, description: 'Windows starting before this time' },
  ];
  const maxima = [
    { column: 'max_cpu_usage_pct', type: 'DOUBLE' as const, description: 'Largest CPU use of any of its processes, in percent' },
    { column: 'max_mem_usage_pct', type: 'DOUBLE' as const, description: 'Largest memory use of any of its processes, in percent of host memory' },
    { column: 'max_mem', type: 'LONG' as const, description: 'Largest resident memory of any of its processes, in bytes' },
  ];
  const select = 'max(cpu_usage_pct) AS max_cpu_usage_pct, max(mem_usage_pct) AS max_mem_usage_pct, max(mem) AS max_mem';
  const topHosts: ScriptDefinition = {
    mode: 'script',
    name: 'cpu_mem_top_hosts',
    group: 'rollups',
    path: '/cpu-mem-top-hosts',
    method: 'GET',
    description: 'Hosts by their largest CPU use over windows starting in [from, to), hottest first; page 1 of pageSize N is the top N',
    dataSource,
    pagination: true,
    datav: false,
    script: [
      `SELECT ip, ${select}, count(DISTINCT pid) AS processes`,
      `FROM ${table}`,
      'WHERE window_start >= {{from}} [[AND window_start < {{to}}]]',
      'GROUP BY ip',
      'ORDER BY max_cpu_usage_pct DESC, ip ASC',
    ].join('\n'),
    requestParams: range,
    responseParams: [
      { column: 'ip', type: 'STRING', description: 'Host address' },
      ...maxima,
      { column: 'processes', type: 'LONG', description: 'Processes of the host seen in the range' },
    ],
  };
  const hostTrend: ScriptDefinition = {
    mode: 'script',
    name: 'cpu_mem_host_trend',
    group: 'rollups',
    path: '/cpu-mem-host-trend',
    method: 'GET',
    description: 'One host\'s CPU and memory maxima per 5-minute window (over its processes), oldest first',
    dataSource,
    pagination: false,
    datav: false,
    maxRows: 10_000,
    script: [
      `SELECT window_start, ${select}`,
      `FROM ${table}`,
      'WHERE ip = {{ip}} AND window_start >= {{from}} [[AND window_start < {{to}}]]',
      'GROUP BY window_start',
      'ORDER BY window_start ASC',
    ].join('\n'),
    requestParams: [{ name: 'ip', type: 'STRING', required: true, description: 'Host address' }, ...range],
    responseParams: [{ column: 'window_start', type: 'DATETIME', description: 'Window start, UTC' }, ...maxima],
  };
  return [
    { id: 'builtin-cpu-mem-top-hosts', definition: topHosts },
    { id: 'builtin-cpu-mem-host-trend', definition: hostTrend },
  ];
}

/** The region-orders result tables in the embedded DuckDB, which the embedded aggregator writes and the gateway reads. */
export const REGION_ORDER_DUCKDB_DDL = [
  `CREATE TABLE IF NOT EXISTS ${regionOrders.tables.totals} (order_region VARCHAR NOT NULL, order_cnt BIGINT NOT NULL, order_total_revenue DECIMAL(20,2) NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ${regionOrders.tables.trend} (window_start TIMESTAMP NOT NULL, order_region VARCHAR NOT NULL, order_cnt BIGINT NOT NULL,
     order_total_revenue DECIMAL(20,2) NOT NULL)`,
];
