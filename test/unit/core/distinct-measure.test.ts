import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { webPv5min } from '../../../aggregators/web-pv-5min.js';
import type { DecodedEvent } from '../../../src/core/event-schema.js';
import { validateSpec, type RollupSpec } from '../../../src/core/rollup-spec.js';
import { WindowedAggregation, type AggregationSnapshot, type RollupRow } from '../../../src/core/windowed-aggregation.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

function ev(page: string, visitor: string, atMs: number, type = 'pv'): DecodedEvent {
  return { timeMs: atMs, values: { app_id: 'app', page_id: page, event_type: type, visitor_id: visitor, timestamp: atMs } };
}

const byKey = (rows: RollupRow[]) => Object.fromEntries(rows.map((r) => [`${r.windowStart}|${String(r.group['page_id'])}|${String(r.group['event_type'])}`, r.measures]));

describe('distinct measure (uv) in the windowed engine', () => {
  it('counts pv and distinct visitors per (app, page, event type) and window', () => {
    const agg = new WindowedAggregation(webPv5min);
    let offset = 0;
    for (const v of ['a', 'b', 'a', 'c', 'a']) agg.add(ev('home', v, T0 + 1000 * offset), offset++);
    agg.add(ev('home', 'a', T0 + 2000, 'click'), offset++);
    agg.add(ev('cart', 'z', T0 + 300_000), offset++);
    expect(byKey(agg.drain().rows)).toEqual({
      [`${T0}|home|pv`]: { pv: 5, uv: 3 },
      [`${T0}|home|click`]: { pv: 1, uv: 1 },
      [`${T0 + 300_000}|cart|pv`]: { pv: 1, uv: 1 },
    });
  });

  it('a checkpoint (JSON, as stored) restores the sketch: resuming gives the rows of a run that never stopped', () => {
    const event = fc.record({ page: fc.constantFrom('home', 'cart'), visitor: fc.integer({ min: 0, max: 400 }), at: fc.integer({ min: 0, max: 900_000 }) });
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 600 }), fc.nat(), (events, cutAt) => {
        const sorted = events.map((e) => ev(e.page, `v${e.visitor}`, T0 + e.at)).sort((a, b) => a.timeMs - b.timeMs);
        const cut = cutAt % sorted.length;
        const whole = new WindowedAggregation(webPv5min);
        sorted.forEach((e, i) => whole.add(e, i));
        const first = new WindowedAggregation(webPv5min);
        sorted.slice(0, cut).forEach((e, i) => first.add(e, i));
        const early = first.drain().rows;
        const snapshot = first.snapshot();
        const resumed =
          snapshot === undefined ? new WindowedAggregation(webPv5min) : WindowedAggregation.restore(webPv5min, JSON.parse(JSON.stringify(snapshot)) as AggregationSnapshot);
        sorted.slice(cut).forEach((e, i) => resumed.add(e, cut + i));
        const expected = byKey(whole.drain().rows);
        // Rows of windows the first run closed before the cut are in `early`; the rest come from the resumed run.
        expect({ ...byKey(early), ...byKey(resumed.drain().rows) }).toEqual(expected);
      }),
      { numRuns: 60 },
    );
  });

  it('keeps small windows small in checkpoints (sparse sketches)', () => {
    const agg = new WindowedAggregation(webPv5min);
    for (let i = 0; i < 10; i++) agg.add(ev('home', `v${i}`, T0 + i), i);
    agg.drain();
    expect(JSON.stringify(agg.snapshot()).length).toBeLessThan(400);
  });

  it('the spec check refuses a distinct measure without a field or with a non-uint64 type', () => {
    const bad = (m: RollupSpec['measures'][number]): RollupSpec => ({ ...webPv5min, measures: [m] });
    expect(() => validateSpec(bad({ name: 'uv', op: 'distinct', type: 'uint64', description: '' }))).toThrow(/needs a source field/);
    expect(() => validateSpec(bad({ name: 'uv', op: 'distinct', field: 'visitor_id', type: 'float64', description: '' }))).toThrow(/must be uint64/);
  });
});
