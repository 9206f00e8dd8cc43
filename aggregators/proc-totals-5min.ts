import type { RollupSpec } from '../src/core/rollup-spec.js';
import { cpuMem5min } from './cpu-mem-5min.js';

/**
 * Totals per (ip, pid) and 5 minutes from the same `system_proc` stream, kept
 * in MySQL. Sums and counts are unforgiving: a replayed or lost event shows,
 * which is what the exactly-once tests check this rollup for.
 */
export const procTotals5min: RollupSpec = {
  name: 'proc-totals-5min',
  description: 'CPU and memory totals per (ip, pid) in tumbling 5-minute windows, with sample counts',
  source: cpuMem5min.source,
  window: cpuMem5min.window,
  groupBy: ['ip', 'pid'],
  measures: [
    { name: 'samples', op: 'count', type: 'uint64', description: 'Number of samples in the window' },
    { name: 'cpu_pct_sum', op: 'sum', field: 'cpu_usage_pct', type: 'float64', description: 'Sum of CPU use samples, in percent' },
    { name: 'mem_res_sum', op: 'sum', field: 'mem_res', type: 'uint64', description: 'Sum of resident memory samples, in bytes' },
    { name: 'cpu_pct_min', op: 'min', field: 'cpu_usage_pct', type: 'float64', description: 'Smallest CPU use sample, in percent' },
    { name: 'mem_usage_pct_avg', op: 'avg', field: 'mem_usage_pct', type: 'float64', description: 'Mean memory use, in percent' },
  ],
  sink: { store: 'mysql', table: 'proc_totals_5min', retentionDays: 3 },
};
