import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HLL_STANDARD_ERROR, HyperLogLog } from '../../../src/core/hyperloglog.js';

function sketchOf(values: Iterable<string>): HyperLogLog {
  const hll = new HyperLogLog();
  for (const v of values) hll.add(v);
  return hll;
}

function* visitors(run: number, n: number): Generator<string> {
  for (let i = 0; i < n; i++) yield `run${run}-visitor-${i}`;
}

describe('HyperLogLog', () => {
  it('counts nothing as 0 and repeats of one value as 1', () => {
    expect(new HyperLogLog().estimate()).toBe(0);
    expect(sketchOf(['a', 'a', 'a']).estimate()).toBe(1);
  });

  it('is near exact for small sets (what a 5-minute window of one page often holds)', () => {
    for (const n of [1, 2, 5, 10, 50, 100, 300]) {
      const estimate = sketchOf(visitors(n, n)).estimate();
      expect(Math.abs(estimate - n), `n=${n} estimate=${estimate}`).toBeLessThanOrEqual(Math.max(3, n * 0.03));
    }
  });

  it('has the standard error it claims (1.04/sqrt(4096) = 1.6 %) across the range, with no bias', () => {
    // 60 independent sets per size; the RMS relative error should be close to the theory.
    for (const n of [2_000, 10_000, 40_000]) {
      const errors: number[] = [];
      for (let run = 0; run < 40; run++) errors.push(sketchOf(visitors(run, n)).estimate() / n - 1);
      const rms = Math.sqrt(errors.reduce((a, e) => a + e * e, 0) / errors.length);
      const mean = errors.reduce((a, e) => a + e, 0) / errors.length;
      expect(rms, `n=${n}`).toBeLessThan(HLL_STANDARD_ERROR * 1.6);
      expect(Math.abs(mean), `n=${n}`).toBeLessThan(HLL_STANDARD_ERROR);
    }
  }, 60_000);

  it('serializes sparse and dense sketches exactly, and merges like a union', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { maxLength: 3000 }), fc.array(fc.string(), { maxLength: 300 }), (a, b) => {
        const sa = sketchOf(a);
        const back = HyperLogLog.deserialize(sa.serialize());
        expect(back.registers).toEqual(sa.registers);
        const merged = HyperLogLog.deserialize(sa.serialize());
        merged.merge(sketchOf(b));
        expect(merged.registers).toEqual(sketchOf([...a, ...b]).registers);
      }),
      { numRuns: 50 },
    );
    const dense = sketchOf(visitors(0, 20_000));
    expect(dense.serialize().startsWith('d')).toBe(true);
    expect(HyperLogLog.deserialize(dense.serialize()).estimate()).toBe(dense.estimate());
    expect(sketchOf(['x']).serialize().length).toBeLessThan(10);
  });

  it('refuses text that is not a sketch', () => {
    expect(() => HyperLogLog.deserialize('sAAA')).toThrow();
    expect(() => HyperLogLog.deserialize('s//8A')).toThrow();
    expect(() => HyperLogLog.deserialize('dAAAA')).toThrow();
    expect(() => HyperLogLog.deserialize('x')).toThrow();
  });
});
