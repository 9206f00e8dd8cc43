import { decodeCheckpoint, isEncodedCheckpoint, type CheckpointData, type CheckpointWindow } from './checkpoint-codec.js';
import { MeasureLayout, type AccumulatorState, type PackedAccumulators } from './measures.js';
import { HyperLogLog } from './hyperloglog.js';
import { windowAssigner, type WindowAssigner } from './window-assignment.js';
import type { DecodedEvent } from './event-schema.js';
import type { RollupSpec } from './rollup-spec.js';

export interface RollupRow {
  windowStart: number; // epoch ms
  group: Record<string, string | number>;
  measures: Record<string, number>;
  final: boolean;
  /**
   * Grows with every event folded into the row, and by one when it turns final.
   * A row is a snapshot of a window that only ever gains events, so the highest
   * version is the most complete; stores keep it, and rewriting a row already
   * written (a replay after a crash) changes nothing.
   */
  version: number;
}

export type AddResult =
  | { readonly kind: 'accepted'; readonly outOfOrder: boolean }
  | { kind: 'late'; windowStart: number; watermark: number };

// Shared answers: an accepted event, the common case, allocates nothing for its result.
const ACCEPTED_IN_ORDER: AddResult = Object.freeze({ kind: 'accepted', outOfOrder: false });
const ACCEPTED_OUT_OF_ORDER: AddResult = Object.freeze({ kind: 'accepted', outOfOrder: true });

/** One group of one window; its measures are packed into the state itself (see MeasureLayout). */
interface GroupState extends PackedAccumulators {
  group: Record<string, string | number>;
  events: number;
  dirty: boolean;
  /** The checkpoint generation in which the group last changed: a delta holds those after the acknowledged one. */
  changedIn: number;
}

/** A segment taken by checkpoint(): acknowledge(generation) once the store holds it. */
export interface EngineCheckpoint {
  generation: number;
  /** Groups in the segment. */
  groups: number;
  data: CheckpointData;
}

/**
 * The first checkpoint format (v1): the whole open state as JSON. No longer
 * written by the runner (see checkpoint()), still restored from tables written
 * by earlier versions.
 */
export interface AggregationSnapshot {
  v: 1;
  nextOffset: number;
  maxEventTime: number | null;
  /** Set when an idle-timeout moved the watermark past what the events alone say. */
  watermarkFloor: number | null;
  windows: Array<{ start: number; groups: Array<{ group: Record<string, string | number>; accumulators: AccumulatorState[]; events: number }> }>;
}

/**
 * Windowed aggregation of one ordered input (one partition).
 * Pure: no clocks, no I/O. Watermark = max event time seen - lateness (or a
 * floor set from outside for an idle partition); a window is final once the
 * watermark reaches its end. Which windows an event is in, and where they end,
 * is the spec's window kind (src/core/window-assignment.ts).
 */
export class WindowedAggregation {
  private readonly windows = new Map<number, Map<string, GroupState>>();
  private maxEventTime = Number.NEGATIVE_INFINITY;
  private watermarkFloor = Number.NEGATIVE_INFINITY;
  private next: number | undefined;
  private changedSinceSnapshot = false;
  /** Stamped on groups as they change; checkpoint() moves on to the next one. */
  private generation = 1;
  /** The latest generation the store holds; deltas carry every group changed after it. */
  private acknowledged = 0;
  private readonly windowing: WindowAssigner;
  private readonly latenessMs: number;
  /** Each measure's source field, by measure index (undefined for count). */
  private readonly measureFields: ReadonlyArray<string | undefined>;
  private readonly layout: MeasureLayout;

  constructor(private readonly spec: RollupSpec) {
    this.windowing = windowAssigner(spec.window);
    this.latenessMs = spec.window.latenessSeconds * 1000;
    this.measureFields = spec.measures.map((m) => m.field);
    this.layout = new MeasureLayout(spec.measures.map((m) => m.op));
  }

  /**
   * A partition from its stored checkpoint: a v1 JSON snapshot, or a v2 base
   * followed by the deltas written on it, applied in order.
   */
  static restoreFrom(spec: RollupSpec, states: readonly string[]): WindowedAggregation {
    const [first, ...rest] = states;
    if (first === undefined) throw new Error('checkpoint: no segments');
    if (!isEncodedCheckpoint(first)) {
      if (rest.length > 0) throw new Error('checkpoint: a v1 snapshot has no deltas');
      return WindowedAggregation.restore(spec, JSON.parse(first) as AggregationSnapshot);
    }
    const agg = new WindowedAggregation(spec);
    states.forEach((state, i) => {
      const data = decodeCheckpoint(state);
      if ((data.kind === 'base') !== (i === 0)) throw new Error(`checkpoint: segment ${i} is a ${data.kind}`);
      agg.apply(data);
    });
    return agg;
  }

  /** A v1 snapshot (see AggregationSnapshot). */
  static restore(spec: RollupSpec, snapshot: AggregationSnapshot): WindowedAggregation {
    const agg = new WindowedAggregation(spec);
    agg.next = snapshot.nextOffset;
    agg.maxEventTime = snapshot.maxEventTime ?? Number.NEGATIVE_INFINITY;
    agg.watermarkFloor = snapshot.watermarkFloor ?? Number.NEGATIVE_INFINITY;
    for (const w of snapshot.windows) {
      const groups = new Map<string, GroupState>();
      for (const g of w.groups) {
        groups.set(groupKeyOf(spec.groupBy, g.group), { group: g.group, ...agg.layout.load(g.accumulators), events: g.events, dirty: false, changedIn: 0 });
      }
      agg.windows.set(w.start, groups);
    }
    return agg;
  }

  get watermark(): number {
    return Math.max(this.maxEventTime - this.latenessMs, this.watermarkFloor);
  }

  /** The watermark the events alone justify, without an idle floor. */
  get eventWatermark(): number {
    return this.maxEventTime - this.latenessMs;
  }

  get openWindowCount(): number {
    return this.windows.size;
  }

  get openGroupCount(): number {
    let n = 0;
    for (const groups of this.windows.values()) n += groups.size;
    return n;
  }

  /** The offset after the last one consumed; where a restored partition resumes. */
  get nextOffset(): number | undefined {
    return this.next;
  }

  /** Records that `offset` was consumed without being folded (bad or late input, already dead-lettered). */
  skip(offset: number): void {
    this.next = offset + 1;
    this.changedSinceSnapshot = true;
  }

  /** An idle partition follows the others: its watermark may be raised, never lowered. */
  raiseWatermark(to: number): void {
    if (to > this.watermark) {
      this.watermarkFloor = to;
      this.changedSinceSnapshot = true;
    }
  }

  add(event: DecodedEvent, offset: number): AddResult {
    this.next = offset + 1;
    this.changedSinceSnapshot = true;
    // Folded into every window of the event that is still open; late only when none is.
    const starts = this.windowing.windowsOf(event.timeMs);
    const watermark = this.watermark;
    let folded = false;
    for (const start of starts) {
      if (this.windowing.endOf(start) <= watermark) continue;
      this.foldInto(start, event);
      folded = true;
    }
    if (!folded) return { kind: 'late', windowStart: starts.at(-1) ?? event.timeMs, watermark };
    const outOfOrder = event.timeMs < this.maxEventTime;
    if (!outOfOrder) this.maxEventTime = event.timeMs;
    return outOfOrder ? ACCEPTED_OUT_OF_ORDER : ACCEPTED_IN_ORDER;
  }

  private foldInto(start: number, event: DecodedEvent): void {
    let groups = this.windows.get(start);
    if (groups === undefined) {
      groups = new Map();
      this.windows.set(start, groups);
    }
    // The hot path of ingest: the key is built straight from the event, and the group's own objects only for a new group.
    const { values } = event;
    const key = groupKeyOf(this.spec.groupBy, values);
    let state = groups.get(key);
    if (state === undefined) {
      const group: Record<string, string | number> = {};
      for (const name of this.spec.groupBy) group[name] = values[name] ?? '';
      const { slots, sketches } = this.layout.empty();
      state = { group, slots, sketches, events: 0, dirty: false, changedIn: 0 };
      groups.set(key, state);
    }
    for (let i = 0; i < this.measureFields.length; i++) {
      const field = this.measureFields[i];
      this.layout.fold(state, i, field === undefined ? 0 : (values[field] ?? Number.NaN));
    }
    state.events += 1;
    state.dirty = true;
    state.changedIn = this.generation;
  }

  /** True when the watermark has closed a window that drain() has not yet emitted. */
  hasClosedWindows(): boolean {
    for (const start of this.windows.keys()) if (this.windowing.endOf(start) <= this.watermark) return true;
    return false;
  }

  /**
   * Rows to write now: every group of every window the watermark has closed
   * (final, and forgotten here) and every group of an open window that changed
   * since the last drain (partial). Also counts the windows it closed.
   */
  drain(): { rows: RollupRow[]; windowsClosed: number } {
    const rows: RollupRow[] = [];
    let windowsClosed = 0;
    const starts = [...this.windows.keys()].sort((a, b) => a - b);
    for (const start of starts) {
      const groups = this.windows.get(start);
      if (groups === undefined) continue;
      const closed = this.windowing.endOf(start) <= this.watermark;
      for (const state of groups.values()) {
        if (!closed && !state.dirty) continue;
        rows.push(this.toRow(start, state, closed));
        state.dirty = false;
      }
      if (closed) {
        this.windows.delete(start);
        windowsClosed += 1;
        this.changedSinceSnapshot = true;
      }
    }
    return { rows, windowsClosed };
  }

  /**
   * The segment to store with the rows just drained, or undefined when nothing
   * changed since the last one. `choose` picks a base (every group) or a delta
   * (the groups changed after the acknowledged generation, so a segment whose
   * write failed is covered by the next one) from the counts of both.
   */
  checkpoint(choose: (changedGroups: number, openGroups: number) => 'base' | 'delta'): EngineCheckpoint | undefined {
    if (!this.changedSinceSnapshot || this.next === undefined) return undefined;
    let changed = 0;
    let open = 0;
    for (const groups of this.windows.values()) {
      for (const g of groups.values()) {
        open += 1;
        if (g.changedIn > this.acknowledged) changed += 1;
      }
    }
    const kind = choose(changed, open);
    const generation = this.generation;
    this.generation += 1;
    this.changedSinceSnapshot = false;
    const windows: CheckpointWindow[] = [];
    let count = 0;
    for (const [start, groups] of this.windows) {
      const selected: GroupState[] = [];
      for (const g of groups.values()) if (kind === 'base' || g.changedIn > this.acknowledged) selected.push(g);
      if (selected.length === 0) continue;
      count += selected.length;
      windows.push(this.columnsOf(start, selected));
    }
    return {
      generation,
      groups: count,
      data: {
        v: 2,
        kind,
        nextOffset: this.next,
        maxEventTime: Number.isFinite(this.maxEventTime) ? this.maxEventTime : null,
        watermarkFloor: Number.isFinite(this.watermarkFloor) ? this.watermarkFloor : null,
        ops: this.spec.measures.map((m) => m.op),
        slotCount: this.layout.slotCount,
        openWindows: [...this.windows.keys()],
        windows,
      },
    };
  }

  /** The store holds the segment of `generation`: later deltas start from it. */
  acknowledge(generation: number): void {
    if (generation > this.acknowledged) this.acknowledged = generation;
  }

  private columnsOf(start: number, groups: readonly GroupState[]): CheckpointWindow {
    const width = this.layout.slotCount;
    const slots = new Float64Array(groups.length * width);
    const events = new Float64Array(groups.length);
    groups.forEach((g, i) => {
      for (let j = 0; j < width; j++) slots[i * width + j] = g.slots[j] ?? Number.NaN;
      events[i] = g.events;
    });
    return {
      start,
      columns: this.spec.groupBy.map((name) => groups.map((g) => g.group[name] ?? '')),
      slots,
      events,
      sketches: Array.from({ length: this.layout.sketchCount }, (_, k) => groups.map((g) => g.sketches?.[k]?.serialize() ?? '')),
    };
  }

  private apply(data: CheckpointData): void {
    const ops = this.spec.measures.map((m) => m.op);
    if (data.ops.join() !== ops.join() || data.slotCount !== this.layout.slotCount) {
      throw new Error(`checkpoint: measures are ${data.ops.join()}, the rollup says ${ops.join()}`);
    }
    if (data.kind === 'base') this.windows.clear();
    this.next = data.nextOffset;
    this.maxEventTime = data.maxEventTime ?? Number.NEGATIVE_INFINITY;
    this.watermarkFloor = data.watermarkFloor ?? Number.NEGATIVE_INFINITY;
    const width = data.slotCount;
    for (const w of data.windows) {
      let groups = this.windows.get(w.start);
      if (groups === undefined) {
        groups = new Map();
        this.windows.set(w.start, groups);
      }
      for (let i = 0; i < w.events.length; i++) {
        const group: Record<string, string | number> = {};
        this.spec.groupBy.forEach((name, c) => {
          group[name] = w.columns[c]?.[i] ?? '';
        });
        const { slots, sketches } = this.layout.empty();
        for (let j = 0; j < width; j++) slots[j] = w.slots[i * width + j] ?? Number.NaN;
        if (sketches !== undefined) sketches.forEach((_, k) => (sketches[k] = HyperLogLog.deserialize(w.sketches[k]?.[i] ?? '')));
        groups.set(groupKeyOf(this.spec.groupBy, group), { group, slots, sketches, events: w.events[i] ?? 0, dirty: false, changedIn: 0 });
      }
    }
    // Windows closed since the earlier segments are not in the open set any more.
    const open = new Set(data.openWindows);
    for (const start of [...this.windows.keys()]) if (!open.has(start)) this.windows.delete(start);
  }

  /** The whole state in the v1 format: for tests of the old-format restore and the benchmark's before figure. */
  snapshot(): AggregationSnapshot | undefined {
    if (!this.changedSinceSnapshot || this.next === undefined) return undefined;
    this.changedSinceSnapshot = false;
    return {
      v: 1,
      nextOffset: this.next,
      maxEventTime: Number.isFinite(this.maxEventTime) ? this.maxEventTime : null,
      watermarkFloor: Number.isFinite(this.watermarkFloor) ? this.watermarkFloor : null,
      windows: [...this.windows].map(([start, groups]) => ({
        start,
        groups: [...groups.values()].map((g) => ({ group: g.group, accumulators: this.layout.save(g), events: g.events })),
      })),
    };
  }

  private toRow(windowStart: number, state: GroupState, final: boolean): RollupRow {
    const measures: Record<string, number> = {};
    this.spec.measures.forEach((m, i) => {
      measures[m.name] = this.layout.read(state, i);
    });
    return { windowStart, group: { ...state.group }, measures, final, version: state.events * 2 + (final ? 1 : 0) };
  }
}

/**
 * Keeps only the highest version of each (window, group): a flush that retries
 * or spans several drains would otherwise write superseded rows, and some
 * stores refuse to upsert one key twice in a statement.
 */
export function latestPerKey(spec: RollupSpec, rows: readonly RollupRow[]): RollupRow[] {
  const latest = new Map<string, RollupRow>();
  for (const row of rows) {
    const key = `${row.windowStart}|${groupKeyOf(spec.groupBy, row.group)}`;
    const seen = latest.get(key);
    if (seen === undefined || row.version >= seen.version) latest.set(key, row);
  }
  return [...latest.values()];
}

/**
 * One string per group, kept only in memory (a restored checkpoint rebuilds
 * it). Each part is tagged with its type and strings with their length, so no
 * two groups share a key (7 and "7", or "a:b" + "c" and "a" + "b:c").
 */
function groupKeyOf(groupBy: readonly string[], values: Record<string, string | number>): string {
  // join() makes one flat string; `key +=` would keep a tree of string pieces in the map, about 100 B more per group.
  const parts: string[] = [];
  for (const name of groupBy) {
    const v = values[name] ?? '';
    parts.push(typeof v === 'number' ? `n${v};` : `s${v.length}:${v}`);
  }
  return parts.join('');
}
