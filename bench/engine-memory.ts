/**
 * Memory and fold speed of the tumbling-window engine (src/core/windowed-aggregation.ts),
 * for each rollup spec and each count N of live (ip, pid) series.
 *
 * Every series has exactly two open windows: event times fall in
 * [T0, T0 + size + lateness), so the watermark (newest event time - lateness) stays
 * below T0 + size and neither window closes; the run checks that it does not.
 * Reported, each against a baseline measured in the same run:
 *
 *   - retained bytes per (series × open window): heapUsed + external after a forced
 *     full GC, minus the same before. Events are made one at a time and dropped,
 *     so only what the state keeps is counted, strings included. Small N is
 *     measured over several instances at once (like several partitions) so heap
 *     noise of a few hundred KB stays out of the figure;
 *   - checkpoint size per series: JSON bytes of the v1 snapshot() / N (the memory
 *     table), and in a table of its own the v2 encoding the runner writes: a
 *     base (every group) and a delta after 10 % of the series had one more event,
 *     each in bytes per series and against v1, with the time to take and encode it;
 *   - fold throughput in events/s over a pre-generated event array.
 *
 * Baselines hold the same numbers: one slot per accumulator value (avg keeps two)
 * plus the event count, keyed by "windowStart|ip|pid":
 *   baseline = Map<key, Float64Array>, folded with plain arithmetic;
 *   floor    = Map<key, row> into one growing Float64Array slab (memory only).
 *
 * Run: npm run bench:memory [-- 1000 10000 100000] [--events-per-window=4] [--trials=1] [--reps=3]
 * Needs --expose-gc (the npm script passes it). Prints figures; asserts none of them.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { setImmediate as tick } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { WindowedAggregation } from '../src/core/windowed-aggregation.js';
import { encodeCheckpoint } from '../src/core/checkpoint-codec.js';
import { windowStartOf } from '../src/core/event-time.js';
import type { DecodedEvent } from '../src/core/event-schema.js';
import type { MeasureOp, RollupSpec } from '../src/core/rollup-spec.js';
import { cpuMem5min } from '../aggregators/cpu-mem-5min.js';
import { procTotals5min } from '../aggregators/proc-totals-5min.js';

const SPECS: readonly RollupSpec[] = [cpuMem5min, procTotals5min];
const OPEN_WINDOWS = 2;
/** State does not grow with events once a (window, series) exists; two also exercise the update path. */
const MEMORY_EVENTS_PER_WINDOW = 2;
/** Memory is measured over ceil(this / N) instances of N series each. */
const MIN_MEASURED_SERIES = 100_000;
/** A window boundary for every size that divides an hour. */
const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const PIDS_PER_HOST = 64;

// ---------------------------------------------------------------- arguments

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'events-per-window': { type: 'string', default: '4' },
    trials: { type: 'string', default: '1' },
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
    const simple: Record<Exclude<MeasureOp, 'avg' | 'distinct'>, number> = { max: MAX, min: MIN, sum: SUM, count: COUNT };
    for (const m of spec.measures) {
      // A sketch does not fit in a number slot; this bench measures the numeric rollups only.
      if (m.op === 'distinct') throw new Error(`${spec.name}: distinct measures are not modelled by this bench`);
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

/** Retained bytes on the JS heap plus off-heap buffers, after full collections. */
async function retainedBytes(): Promise<number> {
  // Array-buffer memory a collection frees is accounted only once its sweeper
  // has run; a turn of the event loop and a second collection wait for it.
  collect!();
  await tick();
  collect!();
  await tick();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

interface MemoryResult {
  /** Retained bytes / (series × open windows), over every instance. */
  bytes: number;
  /** JSON checkpoint bytes / series, of one instance; 0 when not measured. */
  snapshotBytes: number;
}

interface Subject<T> {
  make(): T;
  add(state: T, event: DecodedEvent, offset: number): void;
  /** Throws unless the state holds exactly OPEN_WINDOWS windows × n series. */
  check(state: T, n: number): void;
  snapshotJson?(state: T): string;
}

async function measureMemory<T>(subject: Subject<T>, spec: RollupSpec, n: number): Promise<MemoryResult> {
  const instances = Math.ceil(MIN_MEASURED_SERIES / n);
  const before = await retainedBytes();
  const states: T[] = [];
  for (let i = 0; i < instances; i++) {
    const state = subject.make();
    let offset = 0;
    forEachEvent(spec, n, MEMORY_EVENTS_PER_WINDOW, (event) => subject.add(state, event, offset++));
    states.push(state);
  }
  const bytes = (await retainedBytes()) - before;
  for (const state of states) subject.check(state, n);
  const first = states[0]!;
  const snapshotBytes = subject.snapshotJson === undefined ? 0 : Buffer.byteLength(subject.snapshotJson(first)) / n;
  return { bytes: bytes / (instances * n * OPEN_WINDOWS), snapshotBytes };
}

function engineSubject(spec: RollupSpec): Subject<WindowedAggregation> {
  return {
    make: () => new WindowedAggregation(spec),
    add(agg, event, offset) {
      if (agg.add(event, offset).kind === 'late') throw new Error(`${spec.name}: event at ${event.timeMs} is late; the layout must keep both windows open`);
    },
    check(agg, n) {
      if (agg.openWindowCount !== OPEN_WINDOWS || agg.openGroupCount !== OPEN_WINDOWS * n || agg.hasClosedWindows()) {
        throw new Error(`${spec.name}: expected ${OPEN_WINDOWS} open windows × ${n} series, got ${agg.openWindowCount} windows, ${agg.openGroupCount} groups`);
      }
    },
    snapshotJson(agg) {
      const snapshot = agg.snapshot();
      if (snapshot === undefined) throw new Error(`${spec.name}: no snapshot after folding`);
      return JSON.stringify(snapshot);
    },
  };
}

function baselineSubject<T extends BaselineState>(spec: RollupSpec, make: () => T, snapshotJson?: (state: T) => string): Subject<T> {
  return {
    make,
    add: (state, event) => state.add(event),
    check(state, n) {
      if (state.size !== OPEN_WINDOWS * n) throw new Error(`${spec.name}: baseline holds ${state.size} entries, expected ${OPEN_WINDOWS * n}`);
    },
    ...(snapshotJson === undefined ? {} : { snapshotJson }),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function medianMemory<T>(subject: Subject<T>, spec: RollupSpec, n: number): Promise<MemoryResult> {
  const results: MemoryResult[] = [];
  for (let t = 0; t < trials; t++) results.push(await measureMemory(subject, spec, n));
  return { bytes: median(results.map((r) => r.bytes)), snapshotBytes: median(results.map((r) => r.snapshotBytes)) };
}

/** Small inputs are folded this many times over (each pass into fresh state) so a timing spans more than a few ms. */
const MIN_EVENTS_PER_TIMING = 100_000;

/**
 * Events per second, median of `reps` timings, engine and baseline interleaved.
 * Each timing folds the whole input into fresh state, `passes` times.
 */
function throughput(spec: RollupSpec, n: number, events: readonly DecodedEvent[]): { engine: number; baseline: number } {
  const passes = Math.ceil(MIN_EVENTS_PER_TIMING / events.length);
  const folded = passes * events.length;
  const engineRates: number[] = [];
  const baselineRates: number[] = [];
  let sink = 0;
  for (let r = 0; r < reps; r++) {
    collect!();
    let t = performance.now();
    for (let p = 0; p < passes; p++) {
      const base = new MapBaseline(spec);
      for (const e of events) base.add(e);
      sink += base.size;
    }
    baselineRates.push(folded / ((performance.now() - t) / 1000));

    collect!();
    t = performance.now();
    for (let p = 0; p < passes; p++) {
      const agg = new WindowedAggregation(spec);
      for (let i = 0; i < events.length; i++) agg.add(events[i]!, i);
      sink += agg.openGroupCount;
    }
    engineRates.push(folded / ((performance.now() - t) / 1000));
  }
  if (sink !== 2 * reps * passes * OPEN_WINDOWS * n) throw new Error(`${spec.name}: folded state has the wrong size`);
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

interface Row {
  spec: string;
  n: number;
  engine: MemoryResult;
  map: MemoryResult;
  slab: MemoryResult;
  speed: { engine: number; baseline: number };
}

const subjects = (spec: RollupSpec) =>
  ({
    engine: engineSubject(spec),
    map: baselineSubject(spec, () => new MapBaseline(spec), (m) => m.snapshotJson()),
    slab: baselineSubject(spec, () => new SlabBaseline(spec)),
  }) as const;

// Warm-up: compile and optimise every fold path before anything is measured, so code
// objects allocated on the heap are not counted as state.
for (const spec of SPECS) {
  const s = subjects(spec);
  for (let i = 0; i < 3; i++) {
    for (const subject of [s.engine, s.map, s.slab] as Array<Subject<unknown>>) {
      const state = subject.make();
      let offset = 0;
      forEachEvent(spec, 10_000, MEMORY_EVENTS_PER_WINDOW, (event) => subject.add(state, event, offset++));
      subject.check(state, 10_000);
    }
  }
}

const rows: Row[] = [];
const seconds = (since: number): string => ((performance.now() - since) / 1000).toFixed(1);
for (const n of seriesCounts) {
  let phase = performance.now();
  const memory = new Map<RollupSpec, Pick<Row, 'engine' | 'map' | 'slab'>>();
  for (const spec of SPECS) {
    const s = subjects(spec);
    memory.set(spec, { engine: await medianMemory(s.engine, spec, n), map: await medianMemory(s.map, spec, n), slab: await medianMemory(s.slab, spec, n) });
  }
  process.stderr.write(`${int(n)} series: memory ${seconds(phase)} s`);
  phase = performance.now();
  // Specs with the same window read the same events: make them once.
  const inputs = new Map<string, DecodedEvent[]>();
  for (const spec of SPECS) {
    const windowKey = `${spec.window.sizeSeconds}/${spec.window.latenessSeconds}`;
    let events = inputs.get(windowKey);
    if (events === undefined) {
      const made: DecodedEvent[] = [];
      forEachEvent(spec, n, eventsPerWindow, (e) => made.push(e));
      inputs.set(windowKey, (events = made));
    }
    rows.push({ spec: spec.name, n, ...memory.get(spec)!, speed: throughput(spec, n, events) });
  }
  process.stderr.write(`, throughput ${seconds(phase)} s\n`);
}

console.log(`engine-memory: ${OPEN_WINDOWS} open windows per series; node ${process.version}, ${os.availableParallelism()} cores\n`);
console.log(
  `Retained bytes per (series × open window): heapUsed + external after full GC, ${MEMORY_EVENTS_PER_WINDOW} events per series-window, ` +
    `over ceil(${int(MIN_MEASURED_SERIES)} / series) instances${trials > 1 ? `, median of ${trials} trials` : ''}.\n` +
    `baseline = Map<key, Float64Array>; floor = Map<key, row> + one Float64Array slab; snapshot = JSON bytes per series.`,
);
console.log(
  table(
    ['spec', 'series', 'instances', 'engine', 'baseline', 'engine/baseline', 'floor', 'engine/floor', 'snapshot', 'baseline snapshot', 'ratio'],
    rows.map((r) => [
      r.spec,
      int(r.n),
      int(Math.ceil(MIN_MEASURED_SERIES / r.n)),
      int(r.engine.bytes),
      int(r.map.bytes),
      ratio(r.engine.bytes, r.map.bytes),
      int(r.slab.bytes),
      ratio(r.engine.bytes, r.slab.bytes),
      int(r.engine.snapshotBytes),
      int(r.map.snapshotBytes),
      ratio(r.engine.snapshotBytes, r.map.snapshotBytes),
    ]),
  ),
);
console.log(
  `\nFold throughput, events/s into fresh state, ${eventsPerWindow} events per series-window, median of ${reps} timings ` +
    `of at least ${int(MIN_EVENTS_PER_TIMING)} events. baseline = Map<key, Float64Array> lookup + arithmetic.`,
);
console.log(
  table(
    ['spec', 'series', 'events', 'engine ev/s', 'baseline ev/s', 'engine/baseline'],
    rows.map((r) => [r.spec, int(r.n), int(r.n * OPEN_WINDOWS * eventsPerWindow), rate(r.speed.engine), rate(r.speed.baseline), ratio(r.speed.engine, r.speed.baseline)]),
  ),
);

/** Share of the series that change between a base and the delta measured after it. */
const DELTA_SHARE = 0.1;

interface CheckpointRow {
  spec: string;
  n: number;
  v1: number;
  base: number;
  baseMs: number;
  delta: number;
  deltaMs: number;
}

/** Sizes of the checkpoint formats for one engine of n series × two open windows (see the header). */
async function checkpointSizes(spec: RollupSpec, n: number): Promise<CheckpointRow> {
  const agg = new WindowedAggregation(spec);
  let offset = 0;
  forEachEvent(spec, n, MEMORY_EVENTS_PER_WINDOW, (event) => agg.add(event, offset++));
  const v1 = Buffer.byteLength(JSON.stringify(agg.snapshot()));
  // Either format is taken only after a change; re-recording the last offset is one and changes nothing else.
  agg.skip(offset - 1);
  let t = performance.now();
  const base = agg.checkpoint(() => 'base')!;
  const baseBytes = (await encodeCheckpoint(base.data)).length;
  const baseMs = performance.now() - t;
  agg.acknowledge(base.generation);
  // One more event for every tenth series, in the later window (the stream's head).
  const every = Math.round(1 / DELTA_SHARE);
  let i = 0;
  forEachEvent(spec, n, 1, (event) => {
    // forEachEvent makes the first window's n events, then the second's.
    const j = i++;
    if (j >= n && (j - n) % every === 0) agg.add(event, offset++);
  });
  t = performance.now();
  const delta = agg.checkpoint(() => 'delta')!;
  const deltaBytes = (await encodeCheckpoint(delta.data)).length;
  return { spec: spec.name, n, v1: v1 / n, base: baseBytes / n, baseMs, delta: deltaBytes / n, deltaMs: performance.now() - t };
}

const checkpoints: CheckpointRow[] = [];
for (const n of seriesCounts) for (const spec of SPECS) checkpoints.push(await checkpointSizes(spec, n));
console.log(
  `\nCheckpoint bytes per series (${OPEN_WINDOWS} open windows): v1 = JSON of the whole state (earlier versions); ` +
    `v2 = columns per window, doubles raw, gzip level 1, base64 (what the runner writes); ` +
    `delta = the groups changed after ${DELTA_SHARE * 100} % of the series had one more event, per series of the whole state.`,
);
console.log(
  table(
    ['spec', 'series', 'v1 JSON', 'v2 base', 'base/v1', 'base ms', 'v2 delta', 'delta/v1', 'delta ms'],
    checkpoints.map((c) => [c.spec, int(c.n), int(c.v1), c.base.toFixed(1), ratio(c.base, c.v1), int(c.baseMs), c.delta.toFixed(1), ratio(c.delta, c.v1), int(c.deltaMs)]),
  ),
);

const largest = Math.max(...seriesCounts);
console.log(`\nAt ${int(largest)} series × ${OPEN_WINDOWS} open windows:`);
for (const r of rows.filter((x) => x.n === largest)) {
  console.log(
    `${r.spec}: ${int(r.engine.bytes)} bytes per series-window (${(r.engine.bytes / r.map.bytes).toFixed(1)}x baseline, ` +
      `${(r.engine.bytes / r.slab.bytes).toFixed(1)}x floor); snapshot ${int(r.engine.snapshotBytes)} bytes per series ` +
      `(${(r.engine.snapshotBytes / r.map.snapshotBytes).toFixed(1)}x baseline); fold ${(r.speed.engine / r.speed.baseline).toFixed(2)}x baseline speed`,
  );
}
console.log(`\n(${seconds(started)} s)`);
