import { emptyAccumulator, fold, readAccumulator, type Accumulator } from './measures.js';
import { windowStartOf } from './event-time.js';
import type { DecodedEvent } from './event-schema.js';
import type { RollupSpec } from './rollup-spec.js';

export interface RollupRow {
  windowStart: number; // epoch ms
  group: Record<string, string | number>;
  measures: Record<string, number>;
  final: boolean;
  /**
   * Grows with every event folded into the row, and by one when it turns final.
   * Stores keep the highest version per key, so replaying a partition from an
   * earlier offset (which rebuilds a window from fewer events) never overwrites
   * a more complete row, and rewriting the same row is a no-op.
   */
  version: number;
}

export type AddResult = { kind: 'accepted' } | { kind: 'late'; windowStart: number; watermark: number };

interface GroupState {
  group: Record<string, string | number>;
  accumulators: Accumulator[];
  events: number;
  dirty: boolean;
}

interface WindowState {
  start: number;
  /** Offset of the first event folded into this window: replay must start here to rebuild it. */
  firstOffset: number;
  groups: Map<string, GroupState>;
}

/**
 * Tumbling-window aggregation of one ordered input (one partition).
 * Pure: no clocks, no I/O. Watermark = max event time seen - lateness; a
 * window [s, s+size) is final once the watermark reaches s+size.
 */
export class WindowedAggregation {
  private readonly windows = new Map<number, WindowState>();
  private maxEventTime = Number.NEGATIVE_INFINITY;
  private lastOffset: number | undefined;
  private readonly sizeMs: number;
  private readonly latenessMs: number;

  constructor(private readonly spec: RollupSpec) {
    this.sizeMs = spec.window.sizeSeconds * 1000;
    this.latenessMs = spec.window.latenessSeconds * 1000;
  }

  get watermark(): number {
    return this.maxEventTime - this.latenessMs;
  }

  get openWindowCount(): number {
    return this.windows.size;
  }

  /** Records that `offset` was consumed without being folded (bad or late input, already dead-lettered). */
  skip(offset: number): void {
    this.lastOffset = offset;
  }

  add(event: DecodedEvent, offset: number): AddResult {
    const start = windowStartOf(event.timeMs, this.spec.window.sizeSeconds);
    if (start + this.sizeMs <= this.watermark) {
      this.lastOffset = offset;
      return { kind: 'late', windowStart: start, watermark: this.watermark };
    }
    let window = this.windows.get(start);
    if (window === undefined) {
      window = { start, firstOffset: offset, groups: new Map() };
      this.windows.set(start, window);
    }
    const groupValues = this.spec.groupBy.map((name) => event.values[name] ?? '');
    const key = JSON.stringify(groupValues);
    let state = window.groups.get(key);
    if (state === undefined) {
      const group: Record<string, string | number> = {};
      this.spec.groupBy.forEach((name, i) => {
        group[name] = groupValues[i] ?? '';
      });
      state = { group, accumulators: this.spec.measures.map((m) => emptyAccumulator(m.op)), events: 0, dirty: false };
      window.groups.set(key, state);
    }
    this.spec.measures.forEach((measure, i) => {
      const acc = state.accumulators[i];
      if (acc === undefined) return;
      const raw = measure.field === undefined ? 0 : event.values[measure.field];
      fold(acc, typeof raw === 'number' ? raw : Number(raw));
    });
    state.events += 1;
    state.dirty = true;
    this.maxEventTime = Math.max(this.maxEventTime, event.timeMs);
    this.lastOffset = offset;
    return { kind: 'accepted' };
  }

  /** True when the watermark has closed a window that drain() has not yet emitted. */
  hasClosedWindows(): boolean {
    for (const start of this.windows.keys()) if (start + this.sizeMs <= this.watermark) return true;
    return false;
  }

  /**
   * Rows to write now: every group of every window the watermark has closed
   * (final, and forgotten here) and every group of an open window that changed
   * since the last drain (partial).
   */
  drain(): RollupRow[] {
    const rows: RollupRow[] = [];
    const starts = [...this.windows.keys()].sort((a, b) => a - b);
    for (const start of starts) {
      const window = this.windows.get(start);
      if (window === undefined) continue;
      const closed = start + this.sizeMs <= this.watermark;
      for (const state of window.groups.values()) {
        if (!closed && !state.dirty) continue;
        rows.push(this.toRow(start, state, closed));
        state.dirty = false;
      }
      if (closed) this.windows.delete(start);
    }
    return rows;
  }

  /**
   * The next offset it is safe to commit once the drained rows are stored:
   * the first event of the oldest open window (so a restart rebuilds it), or
   * everything consumed when no window is open.
   */
  commitOffset(): number | undefined {
    let oldest: number | undefined;
    for (const w of this.windows.values()) oldest = oldest === undefined ? w.firstOffset : Math.min(oldest, w.firstOffset);
    if (oldest !== undefined) return oldest;
    return this.lastOffset === undefined ? undefined : this.lastOffset + 1;
  }

  private toRow(windowStart: number, state: GroupState, final: boolean): RollupRow {
    const measures: Record<string, number> = {};
    this.spec.measures.forEach((m, i) => {
      const acc = state.accumulators[i];
      measures[m.name] = acc === undefined ? 0 : readAccumulator(acc);
    });
    return { windowStart, group: { ...state.group }, measures, final, version: state.events * 2 + (final ? 1 : 0) };
  }
}
