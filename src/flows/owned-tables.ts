import { rollups } from '../../aggregators/index.js';
import { regionOrders } from '../../aggregators/region-orders.js';
import { DETAIL_TABLE } from '../store/order-detail-clickhouse.js';
import { REGION_ORDER_TABLES } from '../store/region-orders-store.js';
import { WEB_EVENTS_TABLE } from '../store/web-events-table.js';

/**
 * Tables a flow's storage node may never write: a flow's rows carry their own versions and retention, so
 * sharing a table lets a flow overwrite (or expire) rows it does not own. Names are compared lower-cased, as
 * physicalTable makes them.
 */
const BUILT_IN: ReadonlyMap<string, string> = new Map<string, string>([
  ...rollups.map((r): [string, string] => [r.sink.table.toLowerCase(), `the built-in rollup ${r.name}`]),
  ...[...Object.values(regionOrders.tables), ...Object.values(REGION_ORDER_TABLES)].map((t): [string, string] => [t, `the built-in rollup ${regionOrders.name}`]),
  [DETAIL_TABLE, `the order detail of ${regionOrders.name}`],
  [WEB_EVENTS_TABLE, 'the raw browser events of rollgate monitor-sink'],
  // The CDC source tables of seed 002 (rollgate orders-generator writes them, rollgate cdc reads them).
  ['orders', 'the CDC source of region-orders'],
  ['customers', 'the CDC source of region-orders'],
]);

/** Catalog, flows, checkpoints: everything rollgate keeps about itself starts with this. */
const OWN_PREFIX = 'rollgate_';

/** Whose a table is when a flow may not write it, or undefined when it is free for a flow. */
export function reservedTableOwner(table: string): string | undefined {
  const name = table.toLowerCase();
  if (name.startsWith(OWN_PREFIX)) return 'rollgate itself (its catalog, flows and checkpoints)';
  return BUILT_IN.get(name);
}
