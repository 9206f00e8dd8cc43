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

/**
 * The accumulators of one group, packed: every number in one array of
 * doubles (avg takes two slots, sum and count), sketches beside it. Four
 * `{op, value}` objects, their array and their boxed doubles were more than
 * half of an open group's memory (bench/README.md); one packed array is about
 * a third of that. The checkpoint format stays AccumulatorState[].
 */
export interface PackedAccumulators {
  slots: number[];
  sketches: HyperLogLog[] | undefined;
}

/** Where measure i keeps its state: a slot in `slots`, or a sketch index for distinct. */
interface MeasurePlace {
  op: MeasureOp;
  at: number;
}

/** max and min have no value before their first fold; NaN marks that (a fold never stores NaN from valid input). */
const EMPTY = Number.NaN;

export class MeasureLayout {
  private readonly places: MeasurePlace[];
  /** A packed array of the initial slots; copies keep its double elements and exact length. */
  private readonly initial: number[];
  /** Numbers per group in `slots`. */
  readonly slotCount: number;
  readonly sketchCount: number;

  constructor(ops: readonly MeasureOp[]) {
    let slots = 0;
    let sketches = 0;
    this.places = ops.map((op) => {
      if (op === 'distinct') return { op, at: sketches++ };
      const at = slots;
      slots += op === 'avg' ? 2 : 1;
      return { op, at };
    });
    // Starts with a double, so the array is backed by unboxed doubles from the outset.
    this.initial = [EMPTY];
    for (const { op, at } of this.places) {
      if (op === 'distinct') continue;
      this.initial[at] = op === 'max' || op === 'min' ? EMPTY : 0;
      if (op === 'avg') this.initial[at + 1] = 0;
    }
    this.initial.length = slots;
    this.slotCount = slots;
    this.sketchCount = sketches;
  }

  empty(): PackedAccumulators {
    return {
      slots: this.initial.slice(),
      sketches: this.sketchCount === 0 ? undefined : Array.from({ length: this.sketchCount }, () => new HyperLogLog()),
    };
  }

  /** Same rules as fold(): `raw` is ignored by count, read as text by distinct and as a number otherwise. */
  fold(acc: PackedAccumulators, i: number, raw: number | string): void {
    const place = this.places[i];
    if (place === undefined) return;
    const { slots } = acc;
    const at = place.at;
    if (place.op === 'distinct') {
      acc.sketches?.[at]?.add(String(raw));
      return;
    }
    const value = typeof raw === 'number' ? raw : Number(raw);
    const current = slots[at] ?? EMPTY;
    switch (place.op) {
      case 'max':
        slots[at] = Number.isNaN(current) || value > current ? value : current;
        return;
      case 'min':
        slots[at] = Number.isNaN(current) || value < current ? value : current;
        return;
      case 'sum':
        slots[at] = current + value;
        return;
      case 'count':
        slots[at] = current + 1;
        return;
      case 'avg':
        slots[at] = current + value;
        slots[at + 1] = (slots[at + 1] ?? 0) + 1;
        return;
    }
  }

  read(acc: PackedAccumulators, i: number): number {
    return readAccumulator(this.unpack(acc, i));
  }

  save(acc: PackedAccumulators): AccumulatorState[] {
    return this.places.map((_, i) => saveAccumulator(this.unpack(acc, i)));
  }

  load(states: readonly AccumulatorState[]): PackedAccumulators {
    const acc = this.empty();
    this.places.forEach(({ op, at }, i) => {
      const state = states[i];
      if (state === undefined || state.op !== op) throw new Error(`checkpoint: measure ${i} is ${state?.op ?? 'missing'}, the rollup says ${op}`);
      switch (state.op) {
        case 'distinct':
          if (acc.sketches !== undefined) acc.sketches[at] = HyperLogLog.deserialize(state.hll);
          return;
        case 'max':
        case 'min':
          acc.slots[at] = state.value ?? EMPTY;
          return;
        case 'sum':
        case 'count':
          acc.slots[at] = state.value;
          return;
        case 'avg':
          acc.slots[at] = state.sum;
          acc.slots[at + 1] = state.count;
          return;
      }
    });
    return acc;
  }

  /** Measure i as an Accumulator, the form reads and checkpoints are defined on. */
  private unpack(acc: PackedAccumulators, i: number): Accumulator {
    const place = this.places[i];
    if (place === undefined) throw new Error(`no measure ${i}`);
    const { op, at } = place;
    const slot = acc.slots[at] ?? EMPTY;
    switch (op) {
      case 'distinct': {
        const sketch = acc.sketches?.[at];
        if (sketch === undefined) throw new Error(`no sketch for measure ${i}`);
        return { op, sketch };
      }
      case 'max':
      case 'min':
        return { op, value: Number.isNaN(slot) ? undefined : slot };
      case 'sum':
      case 'count':
        return { op, value: slot };
      case 'avg':
        return { op, sum: slot, count: acc.slots[at + 1] ?? 0 };
    }
  }
}
