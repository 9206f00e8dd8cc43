import { randomBytes } from 'node:crypto';
import { seededRandom } from '../../src/demo/metrics-producer.js';

export interface ProcSample {
  ip: string;
  pid: number;
  cpu_usage_pct: number;
  mem_usage_pct: number;
  mem_res: number;
  timestamp: number | string;
}

/** A name no other test (or earlier run) uses: topics, groups, databases, key prefixes. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** Deterministic pseudo-random numbers, so a failing case can be replayed from its seed. */
export const seeded = seededRandom;

/**
 * In-order samples for `series` (ip, pid) pairs, one every `stepMs` from
 * `startMs` for `windows` 5-minute windows, then one sample per series far
 * enough ahead that every one of those windows is closed by the watermark.
 * Values are random; some timestamps are ISO-8601 strings.
 */
export function procSamples(options: { seed: number; series: number; windows: number; startMs: number; stepMs: number }): ProcSample[] {
  const random = seeded(options.seed);
  const ids = Array.from({ length: options.series }, (_, i) => ({ ip: `192.168.${i % 3}.${10 + i}`, pid: 100 + i * 7 }));
  const out: ProcSample[] = [];
  const end = options.startMs + options.windows * 300_000;
  const sample = (id: { ip: string; pid: number }, t: number, i: number): ProcSample => ({
    ...id,
    cpu_usage_pct: Math.round(random() * 40000) / 100,
    mem_usage_pct: Math.round(random() * 10000) / 100,
    mem_res: Math.floor(random() * 8 * 1024 ** 3),
    timestamp: i % 4 === 0 ? new Date(t).toISOString() : t,
  });
  let i = 0;
  for (let t = options.startMs; t < end; t += options.stepMs) {
    for (const id of ids) out.push(sample(id, t + Math.floor(random() * (options.stepMs / 2)), i++));
  }
  // Watermark = max event time - 60 s; this closes every window before `end`.
  for (const id of ids) out.push(sample(id, end + 61_000, i++));
  return out;
}
