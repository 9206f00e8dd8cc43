import { HyperLogLog } from './hyperloglog.js';
import type { MeasureOp } from './rollup-spec.js';

/**
 * Incremental accumulators. Each is folded one value at a time and read out as
 * the measure's current value, so an open window can be published at any moment.
 */
export type Accumulator =
  | { op: 'max'; value: number | undefined }
  | { op: 'min'; value: number | undefined }
  | { op: 'sum'; value: number }
  | { op: 'count'; value: number }
  | { op: 'avg'; sum: number; count: number }
  /** Approximate distinct count (uv): a HyperLogLog sketch of the field's values. */
  | { op: 'distinct'; sketch: HyperLogLog };

/** An accumulator as stored in a checkpoint: JSON-safe (a sketch becomes its serialized text). */
export type AccumulatorState = Exclude<Accumulator, { op: 'distinct' }> | { op: 'distinct'; hll: string };

export function saveAccumulator(acc: Accumulator): AccumulatorState {
  return acc.op === 'distinct' ? { op: 'distinct', hll: acc.sketch.serialize() } : { ...acc };
}

export function loadAccumulator(state: AccumulatorState): Accumulator {
  return state.op === 'distinct' ? { op: 'distinct', sketch: HyperLogLog.deserialize(state.hll) } : { ...state };
}

export function emptyAccumulator(op: MeasureOp): Accumulator {
  switch (op) {
    case 'max':
      return { op, value: undefined };
    case 'min':
      return { op, value: undefined };
    case 'sum':
      return { op, value: 0 };
    case 'count':
      return { op, value: 0 };
    case 'avg':
      return { op, sum: 0, count: 0 };
    case 'distinct':
      return { op, sketch: new HyperLogLog() };
  }
}

/**
 * `value` is ignored by count; the caller passes the field's value otherwise.
 * Numeric measures read it as a number, distinct counts as text (so 7 and "7" are one value).
 */
export function fold(acc: Accumulator, raw: number | string): void {
  if (acc.op === 'distinct') {
    acc.sketch.add(String(raw));
    return;
  }
  const value = typeof raw === 'number' ? raw : Number(raw);
  switch (acc.op) {
    case 'max':
      acc.value = acc.value === undefined || value > acc.value ? value : acc.value;
      return;
    case 'min':
      acc.value = acc.value === undefined || value < acc.value ? value : acc.value;
      return;
    case 'sum':
      acc.value += value;
      return;
    case 'count':
      acc.value += 1;
      return;
    case 'avg':
      acc.sum += value;
      acc.count += 1;
      return;
  }
}

/** A window only exists once an event is folded, so every accumulator has seen a value. */
export function readAccumulator(acc: Accumulator): number {
  switch (acc.op) {
    case 'max':
    case 'min':
      return acc.value ?? 0;
    case 'sum':
    case 'count':
      return acc.value;
    case 'avg':
      return acc.count === 0 ? 0 : acc.sum / acc.count;
    case 'distinct':
      return acc.sketch.estimate();
  }
}
