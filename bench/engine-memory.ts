/**
 * Memory and fold speed of the tumbling-window engine (src/core/windowed-aggregation.ts).
 *
 * For each rollup spec and each series count N, N live (ip, pid) series each have
 * exactly two open windows: events fall in [T0, T0 + size + lateness), so the newest
 * event time stays below T0 + size + lateness, the watermark (newest - lateness)
 * below T0 + size, and neither window closes. Reported, each against a baseline
 * measured in the same run:
 *
 *   - retained heap per (series × open window): heapUsed + external after a forced
 *     full GC, minus the same before; events are generated one at a time and
 *     dropped, so only the state the engine keeps is counted (strings included);
 *   - checkpoint size per series: JSON.stringify(snapshot()).length / N;
 *   - fold throughput in events/s over a pre-generated event array.
 *
 * Baseline: the cheapest state that answers the same question, a
 * Map<`${windowStart}|${ip}|${pid}`, Float64Array> with one slot per accumulator
 * value (two for avg) plus one for the event count, folded with plain arithmetic.
 *
 * Run: npm run bench:memory [-- 1000 10000 100000] [--events-per-window=4] [--trials=3] [--reps=5]
 * Needs --expose-gc (the npm script passes it). No assertions on the figures.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { WindowedAggregation } from '../src/core/windowed-aggregation.js';
import { windowStartOf } from '../src/core/event-time.js';
import type { DecodedEvent } from '../src/core/event-schema.js';
import type { MeasureOp, RollupSpec } from '../src/core/rollup-spec.js';
import { cpuMem5min } from '../aggregators/cpu-mem-5min.js';
import { procTotals5min } from '../aggregators/proc-totals-5min.js';

const SPECS: readonly RollupSpec[] = [cpuMem5min, procTotals5min];
const OPEN_WINDOWS = 2;
/** State does not grow with events once a (window, series) exists; two also exercise the update path. */
const MEMORY_EVENTS_PER_WINDOW = 2;
/** A window boundary for every size that divides an hour. */
const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const PIDS_PER_HOST = 64;

// ---------------------------------------------------------------- arguments

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'events-per-window': { type: 'string', default: '4' },
    trials: { type: 'string', default: '3' },
    reps: { type: 'string', default: '3' },
  },
});

function positiveInt(text: string, what: string): number {
  const n = Number(text.replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${what}: expected a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

const seriesCounts = (positionals.length > 0 ? positionals.flatMap((p) => p.split(',')) : ['1000', '10000', '100000']).map((p) =>
  positiveInt(p, 'series count'),
);
const eventsPerWindow = positiveInt(opts['events-per-window'], '--events-per-window');
const trials = positiveInt(opts.trials, '--trials');
const reps = positiveInt(opts.reps, '--reps');

const collect = globalThis.gc;
if (collect === undefined) {
  console.error('engine-memory: run with node --expose-gc (npm run bench:memory does)');
  process.exit(2);
}

// ---------------------------------------------------------------- events

/**
 * Event `round` (0 ≤ round < k) of series `s` in open window `w`. Window 0 spans
 * [T0, T0 + size), window 1 only [T0 + size, T0 + size + lateness): later events
 * would push the watermark past T0 + size and close window 0. Times rise with
 * (round, series), like a stream of samples from every series in turn.
 */
function makeEvent(spec: RollupSpec, n: number, k: number, w: number, round: number, s: number): DecodedEvent {
  const sizeMs = spec.window.sizeSeconds * 1000;
  const span = w === 0 ? sizeMs : spec.window.latenessSeconds * 1000;
  const timeMs = T0 + w * sizeMs + Math.floor(((round * n + s) * span) / (k * n));
  const host = Math.floor(s / PIDS_PER_HOST);
  return {
    timeMs,
    values: {
      ip: `10.${(host >> 16) & 255}.${(host >> 8) & 255}.${host & 255}`,
      pid: 1000 + (s % PIDS_PER_HOST),
      cpu_usage_pct: ((s * 7 + round * 13 + w) % 400) / 4,
      mem_usage_pct: ((s * 3 + round + w) % 1000) / 10,
      mem_res: 1_000_000 + s * 4096 + round * 512 + w,
      timestamp: timeMs,
    },
  };
}

function forEachEvent(spec: RollupSpec, n: number, k: number, each: (event: DecodedEvent) => void): void {
  for (let w = 0; w < OPEN_WINDOWS; w++) {
    for (let round = 0; round < k; round++) {
      for (let s = 0; s < n; s++) each(makeEvent(spec, n, k, w, round, s));
    }
  }
}

// ---------------------------------------------------------------- baselines

const MAX = 0;
const MIN = 1;
const SUM = 2;
const COUNT = 3;

/**
 * The numbers a (window, series) needs: one per accumulator value (avg keeps a sum
 * and a count), then the event count the engine keeps for row versions.
 */
class Slots {
  readonly ops: Uint8Array;
  readonly fields: Array<string | undefined>;
  readonly initial: Float64Array;

  constructor(spec: RollupSpec) {
    const slots: Array<{ op: number; field: string | undefined }> = [];
    const simple: Record<Exclude<MeasureOp, 'avg'>, number> = { max: MAX, min: MIN, sum: SUM, count: COUNT };
    for (const m of spec.measures) {
      if (m.op === 'avg') slots.push({ op: SUM, field: m.field }, { op: COUNT, field: undefined });
      else slots.push({ op: simple[m.op], field: m.field });
    }
    slots.push({ op: COUNT, field: undefined });
    this.ops = Uint8Array.from(slots.map((s) => s.op));
    this.fields = slots.map((s) => s.field);
    this.initial = Float64Array.from(slots.map((s) => (s.op === MAX ? -Infinity : s.op === MIN ? Infinity : 0)));
  }

  get count(): number {
    return this.ops.length;
  }

  /** Folds one event into acc[at .. at + count). */
  fold(acc: Float64Array, at: number, values: DecodedEvent['values']): void {
    const ops = this.ops;
    for (let i = 0; i < ops.length; i++) {
      const field = this.fields[i];
      const x = field === undefined ? 0 : Number(values[field]);
      const j = at + i;
      const old = acc[j] ?? 0;
      switch (ops[i]) {
        case MAX:
          acc[j] = Math.max(old, x);
          break;
        case MIN:
          acc[j] = Math.min(old, x);
          break;
        case SUM:
          acc[j] = old + x;
          break;
        case COUNT:
          acc[j] = old + 1;
          break;
      }
    }
  }
}

/**
 * join() builds a flat string. A template literal would leave a tree of cons
 * strings until some lookup flattens it, and the retained size would depend on
 * how many events followed.
 */
function baselineKey(spec: RollupSpec, event: DecodedEvent): string {
  return [windowStartOf(event.timeMs, spec.window.sizeSeconds), event.values['ip'], event.values['pid']].join('|');
}

interface BaselineState {
  readonly size: number;
  add(event: DecodedEvent): void;
}

/** Baseline: Map<`${windowStart}|${ip}|${pid}`, Float64Array(slots)>. */
class MapBaseline implements BaselineState {
  readonly state = new Map<string, Float64Array>();
  private readonly slots: Slots;

  constructor(private readonly spec: RollupSpec) {
    this.slots = new Slots(spec);
  }

  get size(): number {
    return this.state.size;
  }

  add(event: DecodedEvent): void {
    const key = baselineKey(this.spec, event);
    let acc = this.state.get(key);
    if (acc === undefined) {
      acc = this.slots.initial.slice();
      this.state.set(key, acc);
    }
    this.slots.fold(acc, 0, event.values);
  }

  /** The same state as a checkpoint would carry it: [key, ...slots] per entry. */
  snapshotJson(): string {
    return JSON.stringify([...this.state].map(([key, acc]) => [key, ...acc]));
  }
}

/**
 * Floor: Map<key, row number> into one Float64Array slab that doubles as it
 * fills; no per-entry object besides the key string.
 */
class SlabBaseline implements BaselineState {
  readonly index = new Map<string, number>();
  private slab: Float64Array;
  private readonly slots: Slots;

  constructor(private readonly spec: RollupSpec) {
    this.slots = new Slots(spec);
    this.slab = new Float64Array(1024 * this.slots.count);
  }

  get size(): number {
    return this.index.size;
  }

  add(event: DecodedEvent): void {
    const key = baselineKey(this.spec, event);
    const width = this.slots.count;
    let row = this.index.get(key);
    if (row === undefined) {
      row = this.index.size;
      if ((row + 1) * width > this.slab.length) {
        const grown = new Float64Array(this.slab.length * 2);
        grown.set(this.slab);
        this.slab = grown;
      }
      this.slab.set(this.slots.initial, row * width);
      this.index.set(key, row);
    }
    this.slots.fold(this.slab, row * width, event.values);
  }
}

// ---------------------------------------------------------------- measuring

/** Retained bytes on the JS heap plus off-heap buffers, after a full collection. */
function retainedBytes(): number {
  collect!();
  collect!();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

interface MemoryResult {
  bytes: number;
  snapshotBytes: number;
}

function memoryOfEngine(spec: RollupSpec, n: number, k: number): MemoryResult {
  const before = retainedBytes();
  const agg = new WindowedAggregation(spec);
  let offset = 0;
  let late = 0;
  forEachEvent(spec, n, k, (event) => {
    if (agg.add(event, offset++).kind === 'late') late++;
  });
  const bytes = retainedBytes() - before;
  // The setup, not the figures: every series must hold exactly two open windows.
  if (late !== 0 || agg.openWindowCount !== OPEN_WINDOWS || agg.openGroupCount !== OPEN_WINDOWS * n || agg.hasClosedWindows()) {
    throw new Error(`${spec.name}: expected ${OPEN_WINDOWS} open windows × ${n} series, got ${agg.openWindowCount} windows, ${agg.openGroupCount} groups, ${late} late`);
  }
  const snapshot = agg.snapshot();
  if (snapshot === undefined) throw new Error(`${spec.name}: no snapshot after folding`);
  return { bytes, snapshotBytes: Buffer.byteLength(JSON.stringify(snapshot)) };
}

function memoryOfBaseline(make: () => BaselineState, n: number, k: number, spec: RollupSpec): { bytes: number; base: BaselineState } {
  const before = retainedBytes();
  const base = make();
  forEachEvent(spec, n, k, (event) => base.add(event));
  const bytes = retainedBytes() - before;
  if (base.size !== OPEN_WINDOWS * n) throw new Error(`${spec.name}: baseline holds ${base.size} entries, expected ${OPEN_WINDOWS * n}`);
  return { bytes, base };
}

function memoryOfMap(spec: RollupSpec, n: number, k: number): MemoryResult {
  const { bytes, base } = memoryOfBaseline(() => new MapBaseline(spec), n, k, spec);
  return { bytes, snapshotBytes: Buffer.byteLength((base as MapBaseline).snapshotJson()) };
}

function memoryOfSlab(spec: RollupSpec, n: number, k: number): MemoryResult {
  return { bytes: memoryOfBaseline(() => new SlabBaseline(spec), n, k, spec).bytes, snapshotBytes: 0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function medianMemory(run: () => MemoryResult): MemoryResult {
  const results = Array.from({ length: trials }, run);
  return { bytes: median(results.map((r) => r.bytes)), snapshotBytes: median(results.map((r) => r.snapshotBytes)) };
}

/** Events per second, median of `reps` runs each into fresh state, engine and baseline interleaved. */
function throughput(spec: RollupSpec, n: number, k: number): { engine: number; baseline: number } {
  const events: DecodedEvent[] = [];
  forEachEvent(spec, n, k, (e) => events.push(e));
  const engineRates: number[] = [];
  const baselineRates: number[] = [];
  let sink = 0;
  for (let r = 0; r < reps; r++) {
    collect!();
    let t = performance.now();
    const base = new MapBaseline(spec);
    for (const e of events) base.add(e);
    baselineRates.push(events.length / ((performance.now() - t) / 1000));
    sink += base.state.size;

    collect!();
    t = performance.now();
    const agg = new WindowedAggregation(spec);
    for (let i = 0; i < events.length; i++) agg.add(events[i]!, i);
    engineRates.push(events.length / ((performance.now() - t) / 1000));
    sink += agg.openGroupCount;
  }
  if (sink !== 2 * reps * OPEN_WINDOWS * n) throw new Error(`${spec.name}: folded state has the wrong size`);
  return { engine: median(engineRates), baseline: median(baselineRates) };
}

// ---------------------------------------------------------------- output

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
const rate = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(0)}k`);

// ---------------------------------------------------------------- main

for (const spec of SPECS) {
  if (spec.window.latenessSeconds >= spec.window.sizeSeconds) throw new Error(`${spec.name}: the two-open-windows layout needs lateness < size`);
}

const started = performance.now();
// Warm-up: compile and optimise every fold path before anything is measured, so code
// objects allocated on the heap are not counted as state.
for (const spec of SPECS) {
  for (let i = 0; i < 3; i++) {
    memoryOfEngine(spec, 5_000, MEMORY_EVENTS_PER_WINDOW);
    memoryOfMap(spec, 5_000, MEMORY_EVENTS_PER_WINDOW);
    memoryOfSlab(spec, 5_000, MEMORY_EVENTS_PER_WINDOW);
  }
}

interface Row {
  spec: string;
  n: number;
  engine: MemoryResult;
  map: MemoryResult;
  slab: MemoryResult;
  speed: { engine: number; baseline: number };
}
const rows: Row[] = [];
for (const n of seriesCounts) {
  for (const spec of SPECS) {
    const engine = medianMemory(() => memoryOfEngine(spec, n, MEMORY_EVENTS_PER_WINDOW));
    const map = medianMemory(() => memoryOfMap(spec, n, MEMORY_EVENTS_PER_WINDOW));
    const slab = medianMemory(() => memoryOfSlab(spec, n, MEMORY_EVENTS_PER_WINDOW));
    const speed = throughput(spec, n, eventsPerWindow);
    rows.push({ spec: spec.name, n, engine, map, slab, speed });
  }
}

const perSW = (bytes: number, n: number): number => bytes / (n * OPEN_WINDOWS);
console.log(`engine-memory: ${OPEN_WINDOWS} open windows per series; node ${process.version}, ${os.availableParallelism()} cores\n`);
console.log(
  `Retained bytes per (series × open window): heapUsed + external after a full GC, ` +
    `${MEMORY_EVENTS_PER_WINDOW} events per series-window, median of ${trials}. ` +
    `Baseline = Map<key, Float64Array>, floor = Map<key, row> + one Float64Array slab. Snapshot = JSON bytes per series.`,
);
console.log(
  table(
    ['spec', 'series', 'engine', 'baseline', 'engine/baseline', 'floor', 'engine/floor', 'snapshot', 'baseline snapshot', 'ratio'],
    rows.map((r) => [
      r.spec,
      int(r.n),
      int(perSW(r.engine.bytes, r.n)),
      int(perSW(r.map.bytes, r.n)),
      ratio(r.engine.bytes, r.map.bytes),
      int(perSW(r.slab.bytes, r.n)),
      ratio(r.engine.bytes, r.slab.bytes),
      int(r.engine.snapshotBytes / r.n),
      int(r.map.snapshotBytes / r.n),
      ratio(r.engine.snapshotBytes, r.map.snapshotBytes),
    ]),
  ),
);
console.log(`\nFold throughput, events/s into fresh state, ${eventsPerWindow} events per series-window, median of ${reps}. Baseline = Map<key, Float64Array> lookup + arithmetic.`);
console.log(
  table(
    ['spec', 'series', 'events', 'engine ev/s', 'baseline ev/s', 'engine/baseline'],
    rows.map((r) => [r.spec, int(r.n), int(r.n * OPEN_WINDOWS * eventsPerWindow), rate(r.speed.engine), rate(r.speed.baseline), ratio(r.speed.engine, r.speed.baseline)]),
  ),
);

const largest = Math.max(...seriesCounts);
console.log(`\nAt ${int(largest)} series × ${OPEN_WINDOWS} open windows:`);
for (const r of rows.filter((x) => x.n === largest)) {
  console.log(
    `${r.spec}: ${int(perSW(r.engine.bytes, r.n))} bytes per series-window (${(r.engine.bytes / r.map.bytes).toFixed(1)}x baseline, ` +
      `${(r.engine.bytes / r.slab.bytes).toFixed(1)}x floor); snapshot ${int(r.engine.snapshotBytes / r.n)} bytes per series; ` +
      `fold ${(r.speed.engine / r.speed.baseline).toFixed(2)}x baseline speed`,
  );
}
console.log(`\n(${((performance.now() - started) / 1000).toFixed(1)} s)`);
