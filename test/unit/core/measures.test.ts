import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MeasureLayout, emptyAccumulator, fold, readAccumulator, saveAccumulator, type AccumulatorState } from '../../../src/core/measures.js';
import type { MeasureOp } from '../../../src/core/rollup-spec.js';

const OPS: MeasureOp[] = ['max', 'min', 'sum', 'count', 'avg', 'distinct'];

describe('MeasureLayout', () => {
  it('folds, reads and checkpoints every op exactly as the one-object accumulators do', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...OPS), { minLength: 1, maxLength: 8 }),
        // What the event schema lets through: numbers for numeric measures (distinct reads them as text).
        fc.array(fc.oneof(fc.double({ min: -1e15, max: 1e15, noNaN: true }), fc.integer()), { minLength: 1, maxLength: 30 }),
        (ops, values) => {
          const layout = new MeasureLayout(ops);
          const packed = layout.empty();
          const reference = ops.map(emptyAccumulator);
          for (const raw of values) {
            ops.forEach((_, i) => {
              layout.fold(packed, i, raw);
              fold(reference[i]!, raw);
            });
          }
          ops.forEach((_, i) => expect(layout.read(packed, i)).toEqual(readAccumulator(reference[i]!)));
          const saved = layout.save(packed);
          expect(saved).toEqual(reference.map(saveAccumulator));
          // A checkpoint goes through JSON; what loads from it folds on as the original would.
          const restored = layout.load(JSON.parse(JSON.stringify(saved)) as AccumulatorState[]);
          expect(layout.save(restored)).toEqual(JSON.parse(JSON.stringify(saved)));
        },
      ),
    );
  });

  it('refuses a checkpoint whose measures do not match the rollup', () => {
    const layout = new MeasureLayout(['max', 'count']);
    expect(() => layout.load([{ op: 'count', value: 1 }, { op: 'count', value: 1 }])).toThrow(/measure 0 is count/);
    expect(() => layout.load([{ op: 'max', value: 1 }])).toThrow(/measure 1 is missing/);
  });
});
