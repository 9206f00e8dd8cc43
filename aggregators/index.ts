import { validateSpec, type RollupSpec } from '../src/core/rollup-spec.js';
import { cpuMem5min } from './cpu-mem-5min.js';
import { procTotals5min } from './proc-totals-5min.js';
import { regionOrders } from './region-orders.js';
import { webPv5min } from './web-pv-5min.js';

/** Every rollup rollgate runs, by public name. Add a file here to add a rollup. */
export const rollups: readonly RollupSpec[] = [cpuMem5min, procTotals5min, webPv5min];
rollups.forEach(validateSpec);

export function findRollup(name: string): RollupSpec | undefined {
  return rollups.find((r) => r.name === name);
}

/** Every aggregator `rollgate aggregate <name>` runs: the windowed rollups and the changelog aggregator region-orders. */
export const aggregatorNames: readonly string[] = [...rollups.map((r) => r.name), regionOrders.name];
