import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../../aggregators/cpu-mem-5min.js';
import type { RollupSpec } from '../../../src/core/rollup-spec.js';
import { validateSpec } from '../../../src/core/rollup-spec.js';
import { windowAssigner, windowProblems, type WindowSpec } from '../../../src/core/window-assignment.js';
import { WindowedAggregation } from '../../../src/core/windowed-aggregation.js';

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);

/** Window membership straight from the definitions, one window at a time: the oracle. */
function contains(w: WindowSpec, key: number, t: number): boolean {
  const size = w.sizeSeconds * 1000;
  switch (w.kind) {
    case 'tumbling':
      return key % size === 0 && key <= t && t < key + size;
    case 'sliding':
      return key % (w.slideSeconds * 1000) === 0 && key <= t && t < key + size;
    case 'accumulating': {
      const emit = w.emitSeconds * 1000;
      const periodStart = Math.floor(key / size) * size;
      return key % emit === 0 && periodStart <= t && Math.floor(t / size) * size === periodStart && t < key + emit;
    }
  }
}

function step(w: WindowSpec): number {
  return (w.kind === 'tumbling' ? w.sizeSeconds : w.kind === 'sliding' ? w.slideSeconds : w.emitSeconds) * 1000;
}

/** Every candidate key around the events, so no window the definition allows is missed. */
function candidateKeys(w: WindowSpec, times: readonly number[]): number[] {
  const s = step(w);
  const lo = Math.floor((Math.min(...times) - w.sizeSeconds * 1000) / s) * s;
  const hi = Math.max(...times) + w.sizeSeconds * 1000;
  const keys: number[] = [];
  for (let k = lo; k <= hi; k += s) keys.push(k);
  return keys;
}

const windows = fc.oneof(
  fc.record({ kind: fc.constant('tumbling' as const), sizeSeconds: fc.integer({ min: 1, max: 600 }), latenessSeconds: fc.constant(0) }),
  fc
    .tuple(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 6 }))
    .map(([slide, n]): WindowSpec => ({ kind: 'sliding', sizeSeconds: slide * n, slideSeconds: slide, latenessSeconds: 0 })),
  fc
    .tuple(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 120 }))
    .map(([slide, n, extra]): WindowSpec => ({ kind: 'sliding', sizeSeconds: slide * n + (extra % slide), slideSeconds: slide, latenessSeconds: 0 })),
  fc
    .tuple(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 8 }))
    .map(([emit, n]): WindowSpec => ({ kind: 'accumulating', sizeSeconds: emit * n, emitSeconds: emit, latenessSeconds: 0 })),
);

describe('windowAssigner', () => {
  it('gives exactly the windows the definition says, ascending', () => {
    fc.assert(
      fc.property(windows, fc.integer({ min: 0, max: 10 * 86_400_000 }), (w, offset) => {
        const t = T0 + offset;
        const assigner = windowAssigner(w);
        const expected = candidateKeys(w, [t]).filter((k) => contains(w, k, t));
        expect(assigner.windowsOf(t)).toEqual(expected);
        for (const k of expected) expect(assigner.endOf(k)).toBeGreaterThan(t);
      }),
      { numRuns: 2000 },
    );
  });

  it('examples: a 10-minute window sliding by 5, and a 1-hour period emitted every 15 minutes', () => {
    const MIN = 60_000;
    const slide = windowAssigner({ kind: 'sliding', sizeSeconds: 600, slideSeconds: 300, latenessSeconds: 0 });
    expect(slide.windowsOf(T0 + 7 * MIN)).toEqual([T0, T0 + 5 * MIN]);
    const acc = windowAssigner({ kind: 'accumulating', sizeSeconds: 3600, emitSeconds: 900, latenessSeconds: 0 });
    expect(acc.windowsOf(T0 + 20 * MIN)).toEqual([T0 + 15 * MIN, T0 + 30 * MIN, T0 + 45 * MIN]);
    expect(acc.endOf(T0 + 45 * MIN)).toBe(T0 + 60 * MIN);
  });

  it('refuses unusable windows', () => {
    expect(windowProblems({ kind: 'sliding', sizeSeconds: 60, slideSeconds: 120, latenessSeconds: 0 })).toHaveLength(1);
    expect(windowProblems({ kind: 'accumulating', sizeSeconds: 100, emitSeconds: 30, latenessSeconds: 0 })).toHaveLength(1);
    expect(windowProblems({ kind: 'tumbling', sizeSeconds: 0, latenessSeconds: 0 })).toHaveLength(1);
  });
});

describe('WindowedAggregation with sliding and accumulating windows', () => {
  const events = fc.array(
    fc.record({ host: fc.constantFrom('a', 'b', 'c'), offset: fc.integer({ min: 0, max: 3 * 3600_000 }), cpu: fc.integer({ min: 0, max: 1000 }) }),
    { minLength: 1, maxLength: 150 },
  );

  it('final rows equal a brute-force GROUP BY over every window of the definition', () => {
    fc.assert(
      fc.property(windows, events, fc.integer({ min: 0, max: 300 }), fc.boolean(), (window, raw, smallLateness, shuffled) => {
        // Shuffled input needs a lateness covering its disorder (the whole 3-hour range) for nothing to be late.
        const lateness = shuffled ? 4 * 3600 : smallLateness;
        const w = { ...window, latenessSeconds: lateness } as WindowSpec;
        const spec: RollupSpec = {
          ...cpuMem5min,
          window: w,
          groupBy: ['ip'],
          source: { ...cpuMem5min.source, keyFields: ['ip'] },
          measures: [
            { name: 'cpu', op: 'max', field: 'cpu_usage_pct', type: 'float64', description: '' },
            { name: 'total', op: 'sum', field: 'cpu_usage_pct', type: 'float64', description: '' },
            { name: 'n', op: 'count', type: 'uint64', description: '' },
          ],
        };
        validateSpec(spec);
        // In time order, or shuffled within the lateness: nothing is late, lateness only delays closing.
        const sorted = [...raw].sort((x, y) => x.offset - y.offset);
        const agg = new WindowedAggregation(spec);
        (shuffled ? raw : sorted).forEach((e, i) => {
          const t = T0 + e.offset;
          expect(agg.add({ timeMs: t, values: { ip: e.host, pid: 1, cpu_usage_pct: e.cpu, mem_usage_pct: 0, mem_res: 0, timestamp: t } }, i).kind).toBe('accepted');
        });
        agg.raiseWatermark(Number.MAX_SAFE_INTEGER);
        const rows = agg.drain().rows;
        expect(rows.every((r) => r.final)).toBe(true);
        const got = rows.map((r) => [r.windowStart, r.group['ip'], r.measures['cpu'], r.measures['total'], r.measures['n']]).sort(byKey);

        const times = sorted.map((e) => T0 + e.offset);
        const expected: Array<Array<string | number | undefined>> = [];
        for (const k of candidateKeys(w, times)) {
          for (const host of ['a', 'b', 'c']) {
            const inside = sorted.filter((e) => e.host === host && contains(w, k, T0 + e.offset));
            if (inside.length === 0) continue;
            expected.push([k, host, Math.max(...inside.map((e) => e.cpu)), inside.reduce((s, e) => s + e.cpu, 0), inside.length]);
          }
        }
        expect(got).toEqual(expected.sort(byKey));
      }),
      { numRuns: 300 },
    );
  });

  it('an event behind the watermark goes into those of its sliding windows still open, and is late only when none is', () => {
    const spec: RollupSpec = {
      ...cpuMem5min,
      window: { kind: 'sliding', sizeSeconds: 600, slideSeconds: 300, latenessSeconds: 0 },
      measures: [{ name: 'n', op: 'count', type: 'uint64', description: '' }],
    };
    const agg = new WindowedAggregation(spec);
    const at = (min: number, offset: number) => {
      const t = T0 + min * 60_000;
      return agg.add({ timeMs: t, values: { ip: 'a', pid: 1, cpu_usage_pct: 1, mem_usage_pct: 1, mem_res: 1, timestamp: t } }, offset);
    };
    expect(at(12, 0).kind).toBe('accepted');
    // 8 min is in [0, 10), closed by the watermark at 12, and in [5, 15), still open.
    expect(at(8, 1)).toEqual({ kind: 'accepted', outOfOrder: true });
    expect(at(3, 2)).toEqual({ kind: 'late', windowStart: T0, watermark: T0 + 12 * 60_000 });
    const rows = agg.drain().rows.map((r) => [(r.windowStart - T0) / 60_000, r.measures['n']]);
    expect(rows).toEqual([
      [5, 2],
      [10, 1],
    ]);
  });

  it('an accumulating window publishes a growing total slot by slot, and restarts with the next period', () => {
    const spec: RollupSpec = {
      ...cpuMem5min,
      window: { kind: 'accumulating', sizeSeconds: 3600, emitSeconds: 900, latenessSeconds: 0 },
      measures: [{ name: 'n', op: 'count', type: 'uint64', description: '' }],
    };
    const agg = new WindowedAggregation(spec);
    const at = (min: number, offset: number) => {
      const t = T0 + min * 60_000;
      agg.add({ timeMs: t, values: { ip: 'a', pid: 1, cpu_usage_pct: 1, mem_usage_pct: 1, mem_res: 1, timestamp: t } }, offset);
    };
    [1, 2, 20, 50, 61].forEach((m, i) => at(m, i));
    const finals = agg.drain().rows.filter((r) => r.final).map((r) => [(r.windowStart - T0) / 60_000, r.measures['n']]);
    expect(finals).toEqual([
      [0, 2],
      [15, 3],
      [30, 3],
      [45, 4],
    ]);
  });
});

function byKey(x: Array<string | number | undefined>, y: Array<string | number | undefined>): number {
  return Number(x[0]) - Number(y[0]) || String(x[1]).localeCompare(String(y[1]));
}
