import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { procTotals5min } from '../../../aggregators/proc-totals-5min.js';
import { webPv5min } from '../../../aggregators/web-pv-5min.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../../src/core/checkpoint-codec.js';
import type { DecodedEvent } from '../../../src/core/event-schema.js';
import type { RollupSpec } from '../../../src/core/rollup-spec.js';
import { WindowedAggregation, type RollupRow } from '../../../src/core/windowed-aggregation.js';
import { resolveChain, type CheckpointSegment } from '../../../src/store/rollup-store.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

/** Every kind of measure state: count, sum, min, avg (two slots) and a distinct sketch. */
const spec: RollupSpec = {
  ...procTotals5min,
  measures: [...procTotals5min.measures, { name: 'mem_values', op: 'distinct', field: 'mem_res', type: 'uint64', description: 'Distinct memory samples' }],
};

function ev(host: number, pid: number, timeMs: number, cpu: number, mem: number): DecodedEvent {
  return { timeMs, values: { ip: `10.0.0.${host}`, pid, cpu_usage_pct: cpu, mem_res: mem, mem_usage_pct: cpu / 4, timestamp: timeMs } };
}

type Op =
  | { op: 'event'; host: number; pid: number; step: number; jitter: number; cpu: number; mem: number }
  | { op: 'raise'; byMs: number }
  | { op: 'flush'; kind: 'base' | 'delta'; stored: boolean }
  | { op: 'crash' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('event' as const),
      host: fc.integer({ min: 0, max: 2 }),
      pid: fc.integer({ min: 1, max: 2 }),
      step: fc.integer({ min: 0, max: 10_000 }),
      // Mostly within the 60 s lateness, sometimes late.
      jitter: fc.integer({ min: 0, max: 90_000 }),
      cpu: fc.double({ min: 0, max: 400, noNaN: true }),
      mem: fc.integer({ min: 0, max: 50 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('raise' as const), byMs: fc.integer({ min: 0, max: 400_000 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('flush' as const), kind: fc.constantFrom('base' as const, 'delta' as const, 'delta' as const, 'delta' as const), stored: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'crash' as const }) },
);

/** The store's side: highest version per row, and a slot per segment that keeps the higher next offset. */
class FakeStore {
  readonly rows = new Map<string, RollupRow>();
  readonly slots = new Map<number, CheckpointSegment>();

  writeRows(rows: readonly RollupRow[]): void {
    for (const r of rows) {
      const k = `${r.windowStart}|${r.group['ip']}|${r.group['pid']}`;
      const prev = this.rows.get(k);
      if (prev === undefined || r.version >= prev.version) this.rows.set(k, r);
    }
  }

  writeSegment(s: CheckpointSegment): void {
    const prev = this.slots.get(s.slot);
    if (prev === undefined || s.nextOffset >= prev.nextOffset) this.slots.set(s.slot, s);
  }
}

/** An engine's whole state, in an order that does not depend on when groups were added. */
function stateOf(agg: WindowedAggregation): unknown {
  const next = agg.nextOffset;
  if (next === undefined) return 'empty';
  // checkpoint() answers only after a change; re-recording the last offset is one and changes nothing else.
  agg.skip(next - 1);
  const data = agg.checkpoint(() => 'base')?.data;
  if (data === undefined) throw new Error('no checkpoint after a change');
  const groups: Record<string, unknown> = {};
  for (const w of data.windows) {
    w.events.forEach((events, i) => {
      const key = `${w.start}|${w.columns.map((c) => c[i]).join('|')}`;
      groups[key] = { events, slots: [...w.slots.subarray(i * data.slotCount, (i + 1) * data.slotCount)], sketches: w.sketches.map((s) => s[i]) };
    });
  }
  return { nextOffset: data.nextOffset, maxEventTime: data.maxEventTime, watermarkFloor: data.watermarkFloor, open: [...data.openWindows].sort(), groups };
}

/**
 * Runs the ops the way the runner does (rows, then a base or a delta on the
 * acknowledged head, acknowledged only when stored; a crash restores from the
 * stored chain and replays the log after it). With `uninterrupted`, flushes
 * only write rows and nothing crashes.
 */
async function run(ops: readonly Op[], uninterrupted: boolean, states: unknown[] = []): Promise<Map<string, RollupRow>> {
  const store = new FakeStore();
  // The input: events with their offsets, and idle raises (a target, so a replay lands where the raise did) in their place.
  const log: Array<{ offset: number; event: DecodedEvent } | { raiseTo: number }> = [];
  let engine = new WindowedAggregation(spec);
  let head: { chainId: string; slot: number; nextOffset: number } | undefined;
  let chains = 0;
  let t = T0 + 60_000;
  let offset = 0;
  for (const op of ops) {
    if (op.op === 'event') {
      t += op.step;
      const entry = { offset: offset++, event: ev(op.host, op.pid, t - op.jitter, op.cpu, op.mem) };
      log.push(entry);
      engine.add(entry.event, entry.offset);
    } else if (op.op === 'raise') {
      const entry = { raiseTo: engine.watermark + op.byMs };
      log.push(entry);
      engine.raiseWatermark(entry.raiseTo);
    } else if (op.op === 'flush') {
      store.writeRows(engine.drain().rows);
      if (uninterrupted) continue;
      const taken = engine.checkpoint(() => (head === undefined ? 'base' : op.kind));
      // Not stored: the write failed, or the process died before it; the next segment must cover it.
      if (taken === undefined || !op.stored) continue;
      const base = taken.data.kind === 'base';
      const segment: CheckpointSegment = {
        groupId: 'g',
        topic: 't',
        partition: 0,
        slot: base ? 0 : (head?.slot ?? 0) + 1,
        chainId: base ? `c${chains++}` : (head?.chainId ?? ''),
        kind: taken.data.kind,
        nextOffset: taken.data.nextOffset,
        parentOffset: base ? null : (head?.nextOffset ?? null),
        state: await encodeCheckpoint(taken.data),
      };
      store.writeSegment(segment);
      engine.acknowledge(taken.generation);
      head = { chainId: segment.chainId, slot: segment.slot, nextOffset: segment.nextOffset };
    } else if (!uninterrupted) {
      const stored = resolveChain([...store.slots.values()]);
      engine = stored === undefined ? new WindowedAggregation(spec) : WindowedAggregation.restoreFrom(spec, stored.states);
      head = undefined;
      const resumeAt = engine.nextOffset ?? 0;
      // Everything after the last event the checkpoint holds, raises included, in its order.
      let from = 0;
      log.forEach((e, i) => {
        if ('event' in e && e.offset < resumeAt) from = i + 1;
      });
      for (const e of log.slice(from)) {
        if ('event' in e) engine.add(e.event, e.offset);
        else engine.raiseWatermark(e.raiseTo);
      }
    }
    // Where a crash happens the state is recorded, restored or not; both runs must agree there.
    // Drained first: a window closed by a replayed raise but not yet drained is not a difference.
    if (op.op === 'crash') {
      store.writeRows(engine.drain().rows);
      states.push(stateOf(engine));
    }
  }
  store.writeRows(engine.drain().rows);
  return store.rows;
}

describe('incremental checkpoints (base + deltas)', () => {
  it('events, flushes, unstored checkpoints and crashes restored from the chain give the rows of an uninterrupted run', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 200 }), async (ops) => {
        const expectedStates: unknown[] = [];
        const actualStates: unknown[] = [];
        const expected = await run(ops, true, expectedStates);
        const actual = await run(ops, false, actualStates);
        expect(actualStates).toEqual(expectedStates);
        expect(Object.fromEntries(actual)).toEqual(Object.fromEntries(expected));
      }),
      { numRuns: 300 },
    );
  });

  it('a delta holds only the groups changed since the acknowledged segment, and one not acknowledged is covered by the next', () => {
    const agg = new WindowedAggregation(spec);
    agg.add(ev(1, 1, T0, 1, 1), 0);
    agg.add(ev(2, 1, T0, 1, 1), 1);
    const base = agg.checkpoint(() => 'base');
    expect(base?.groups).toBe(2);
    agg.acknowledge(base!.generation);
    agg.add(ev(1, 1, T0 + 1, 1, 1), 2);
    const lost = agg.checkpoint(() => 'delta'); // never acknowledged: its write failed
    expect(lost?.groups).toBe(1);
    agg.add(ev(3, 1, T0 + 2, 1, 1), 3);
    const next = agg.checkpoint(() => 'delta');
    expect(next?.data.windows.flatMap((w) => w.columns[0])).toEqual(['10.0.0.1', '10.0.0.3']);
    agg.acknowledge(next!.generation);
    expect(agg.checkpoint(() => 'delta')).toBeUndefined(); // nothing changed since
    agg.add(ev(2, 1, T0 + 3, 1, 1), 4);
    expect(agg.checkpoint(() => 'delta')?.data.windows.flatMap((w) => w.columns[0])).toEqual(['10.0.0.2']);
  });

  it('a delta drops the windows closed since the base', async () => {
    const agg = new WindowedAggregation(spec);
    agg.add(ev(1, 1, T0, 1, 1), 0);
    const base = agg.checkpoint(() => 'base')!;
    agg.acknowledge(base.generation);
    agg.add(ev(1, 1, T0 + 400_000, 1, 1), 1); // closes the first window
    agg.drain();
    const delta = agg.checkpoint(() => 'delta')!;
    const restored = WindowedAggregation.restoreFrom(spec, [await encodeCheckpoint(base.data), await encodeCheckpoint(delta.data)]);
    expect(restored.openWindowCount).toBe(1);
    expect(restored.nextOffset).toBe(2);
  });
});

/** Every group as a final row: a restored engine has nothing dirty, so its windows are closed to read it all. */
function allRows(agg: WindowedAggregation): RollupRow[] {
  agg.raiseWatermark(T0 + 86_400_000);
  return agg.drain().rows;
}

describe('checkpoint encoding', () => {
  it('round-trips every measure state (count, sum, min, avg, distinct sketches) exactly', async () => {
    const agg = new WindowedAggregation(spec);
    for (let i = 0; i < 300; i++) agg.add(ev(i % 7, 1 + (i % 2), T0 + i * 1000, i / 3, i % 41), i);
    const taken = agg.checkpoint(() => 'base')!;
    const decoded = decodeCheckpoint(await encodeCheckpoint(taken.data));
    expect(decoded).toEqual(taken.data);
    const restored = WindowedAggregation.restoreFrom(spec, [await encodeCheckpoint(taken.data)]);
    expect(allRows(restored)).toEqual(allRows(agg));
  });

  it('keeps HyperLogLog sketches through a restore (uv)', async () => {
    const pv = new WindowedAggregation(webPv5min);
    for (let i = 0; i < 500; i++) pv.add({ timeMs: T0 + i, values: { app_id: 'a', page_id: 'p', event_type: 'pv', visitor_id: `v${i % 120}`, timestamp: T0 + i } }, i);
    const restored = WindowedAggregation.restoreFrom(webPv5min, [await encodeCheckpoint(pv.checkpoint(() => 'base')!.data)]);
    expect(allRows(restored)).toEqual(allRows(pv));
  });

  it('still restores a v1 JSON snapshot written by earlier versions', () => {
    const agg = new WindowedAggregation(spec);
    for (let i = 0; i < 50; i++) agg.add(ev(i % 3, 1, T0 + i * 1000, i, i), i);
    const v1 = JSON.stringify(agg.snapshot());
    expect(allRows(WindowedAggregation.restoreFrom(spec, [v1]))).toEqual(allRows(agg));
  });

  it('refuses a segment of another rollup\'s measures', async () => {
    const agg = new WindowedAggregation(spec);
    agg.add(ev(1, 1, T0, 1, 1), 0);
    const state = await encodeCheckpoint(agg.checkpoint(() => 'base')!.data);
    expect(() => WindowedAggregation.restoreFrom(procTotals5min, [state])).toThrow(/measures are/);
  });
});
