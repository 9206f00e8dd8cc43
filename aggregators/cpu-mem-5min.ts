import type { RollupSpec } from '../src/core/rollup-spec.js';

/**
 * Seed 000: the largest CPU and memory use of every (ip, pid) per 5 minutes
 * (count_freq 300, window_type scroll, waiting_time 60, expires 3).
 */
export const cpuMem5min: RollupSpec = {
  name: 'cpu-mem-5min',
  description: 'Maximum CPU and memory per (ip, pid) in tumbling 5-minute windows',
  source: {
    topic: 'system_proc',
    timeField: 'timestamp',
    keyFields: ['ip', 'pid'],
    fields: [
      { name: 'ip', type: 'string', description: 'Host address' },
      { name: 'pid', type: 'uint32', description: 'Process id' },
      { name: 'cpu_usage_pct', type: 'float64', minimum: 0, description: 'CPU use in percent of one core' },
      { name: 'mem_usage_pct', type: 'float64', minimum: 0, maximum: 100, description: 'Resident memory in percent of host memory' },
      { name: 'mem_res', type: 'uint64', description: 'Resident memory in bytes' },
      { name: 'timestamp', type: 'timestamp', description: 'Sample time: epoch milliseconds or ISO-8601' },
    ],
  },
  window: { kind: 'tumbling', sizeSeconds: 300, latenessSeconds: 60 },
  groupBy: ['ip', 'pid'],
  measures: [
    { name: 'mem', op: 'max', field: 'mem_res', type: 'uint64', description: 'Largest resident memory in bytes' },
    { name: 'cpu_usage_pct', op: 'max', field: 'cpu_usage_pct', type: 'float64', description: 'Largest CPU use in percent' },
    { name: 'mem_usage_pct', op: 'max', field: 'mem_usage_pct', type: 'float64', description: 'Largest memory use in percent' },
    { name: 'samples', op: 'count', type: 'uint64', description: 'Number of samples in the window' },
  ],
  sink: { store: 'clickhouse', table: 'cpu_mem_5min', retentionDays: 3 },
};
