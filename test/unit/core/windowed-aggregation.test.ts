import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../../aggregators/cpu-mem-5min.js';
import type { DecodedEvent } from '../../../src/core/event-schema.js';
import { WindowedAggregation, type RollupRow } from '../../../src/core/windowed-aggregation.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const MIN = 60_000;

function ev(ip: string, pid: number, atMs: number, cpu: number, mem = 100): DecodedEvent {
  return { timeMs: atMs, values: { ip, pid, cpu_usage_pct: cpu, mem_usage_pct: cpu / 2, mem_res: mem, timestamp: atMs } };
}

describe('WindowedAggregation', () => {
  it('folds max and count per (ip, pid) and tumbling window', () => {
    const agg = new WindowedAggregation(cpuMem5min);
    agg.add(ev('a', 1, T0 + 10_000, 5, 300), 0);
    agg.add(ev('a', 1, T0 + 20_000, 9, 100), 1);
    agg.add(ev('b', 2, T0 + 30_000, 1, 50), 2);
    agg.add(ev('a', 1, T0 + 5 * MIN, 2, 10), 3); // next window
    const rows = agg.drain();
    expect(rows).toHaveLength(3);
    const a0 = rows.find((r) => r.group['ip'] === 'a' && r.windowStart === T0);
    expect(a0).toMatchObject({ final: false, measures: { mem: 300, cpu_usage_pct: 9, mem_usage_pct: 4.5, samples: 2 } });
  });

  it('closes a window once the watermark (max time - 60 s) reaches its end, and not before', () => {
    const agg = new WindowedAggregation(cpuMem5min);
    agg.add(ev('a', 1, T0 + MIN, 5), 0);
    agg.add(ev('a', 1, T0 + 5 * MIN + 59_999, 6), 1);
    expect(agg.hasClosedWindows()).toBe(false);
    expect(agg.drain().every((r) => !r.final)).toBe(true);
    agg.add(ev('a', 1, T0 + 6 * MIN, 7), 2);
    expect(agg.hasClosedWindows()).toBe(true);
    const rows = agg.drain();
    expect(rows.filter((r) => r.final).map((r) => r.windowStart)).toEqual([T0]);
    expect(agg.openWindowCount).toBe(1);
  });

  it('emits only changed groups of open windows as partial rows', () => {
    const agg = new WindowedAggregation(cpuMem5min);
    agg.add(ev('a', 1, T0, 5), 0);
    agg.add(ev('b', 1, T0, 5), 1);
    agg.drain();
    agg.add(ev('b', 1, T0 + 1000, 6), 2);
    expect(agg.drain().map((r) => r.group['ip'])).toEqual(['b']);
    expect(agg.drain()).toEqual([]);
  });

  it('reports events behind the watermark as late and does not fold them', () => {
    const agg = new WindowedAggregation(cpuMem5min);
    agg.add(ev('a', 1, T0 + MIN, 5), 0);
    agg.add(ev('a', 1, T0 + 7 * MIN, 5), 1);
    agg.drain();
    const late = agg.add(ev('a', 1, T0 + 2 * MIN, 99), 2);
    expect(late).toEqual({ kind: 'late', windowStart: T0, watermark: T0 + 6 * MIN });
    // Within lateness: an older event for a window that is still open is folded.
    expect(agg.add(ev('a', 1, T0 + 5 * MIN + 1, 1), 3).kind).toBe('accepted');
  });

  it('commits no further than the first offset of the oldest open window', () => {
    const agg = new WindowedAggregation(cpuMem5min);
    expect(agg.commitOffset()).toBeUndefined();
    agg.add(ev('a', 1, T0, 5), 10);
    agg.add(ev('a', 1, T0 + 5 * MIN, 5), 11);
    expect(agg.commitOffset()).toBe(10);
    agg.add(ev('a', 1, T0 + 11 * MIN, 5), 12); // closes T0 and T0+5
    agg.drain();
    expect(agg.commitOffset()).toBe(12);
    agg.skip(13);
    agg.add(ev('a', 1, T0 + 30 * MIN, 5), 14); // closes T0+10
    agg.drain();
    expect(agg.commitOffset()).toBe(14);
  });

  it('gives a more complete row a higher version, and the final row the highest', () => {
    const agg = new WindowedAggregation(cpuMem5min);
    agg.add(ev('a', 1, T0, 5), 0);
    const [first] = agg.drain();
    agg.add(ev('a', 1, T0 + 1, 5), 1);
    const [second] = agg.drain();
    agg.add(ev('a', 1, T0 + 20 * MIN, 5), 2);
    const closed = agg.drain().find((r) => r.windowStart === T0);
    expect(first!.version).toBeLessThan(second!.version);
    expect(second!.version).toBeLessThan(closed!.version);
    expect(closed!.final).toBe(true);
  });

  it('matches a naive GROUP BY for any in-order stream, and a replay from the commit offset rebuilds the same rows', () => {
    const event = fc.record({
      host: fc.integer({ min: 0, max: 3 }),
      step: fc.integer({ min: 0, max: 200_000 }),
      cpu: fc.double({ min: 0, max: 400, noNaN: true }),
      mem: fc.integer({ min: 0, max: 2 ** 40 }),
    });
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 300 }), fc.nat(), (spec, cut) => {
        let t = T0;
        const events = spec.map((e) => {
          t += e.step;
          return ev(`h${e.host}`, e.host, t, e.cpu, e.mem);
        });
        const latest = new Map<string, RollupRow>();
        const keep = (rows: RollupRow[]) => {
          for (const r of rows) {
            const k = `${r.windowStart}|${r.group['ip']}`;
            const prev = latest.get(k);
            if (prev === undefined || r.version >= prev.version) latest.set(k, r);
          }
        };
        // First run stops at `cut` and stores its rows, like a crash after a flush.
        const stopAt = cut % events.length;
        const first = new WindowedAggregation(cpuMem5min);
        events.slice(0, stopAt).forEach((e, i) => first.add(e, i));
        keep(first.drain());
        // The restart replays from the committed offset to the end.
        const from = first.commitOffset() ?? 0;
        const second = new WindowedAggregation(cpuMem5min);
        events.slice(from).forEach((e, i) => second.add(e, from + i));
        keep(second.drain());

        const oracle = new Map<string, { cpu: number; mem: number; n: number }>();
        for (const e of events) {
          const ws = Math.floor(e.timeMs / 300_000) * 300_000;
          const k = `${ws}|${e.values['ip']}`;
          const o = oracle.get(k) ?? { cpu: -1, mem: -1, n: 0 };
          oracle.set(k, { cpu: Math.max(o.cpu, Number(e.values['cpu_usage_pct'])), mem: Math.max(o.mem, Number(e.values['mem_res'])), n: o.n + 1 });
        }
        expect([...latest.keys()].sort()).toEqual([...oracle.keys()].sort());
        for (const [k, o] of oracle) {
          const row = latest.get(k)!;
          expect(row.measures).toMatchObject({ cpu_usage_pct: o.cpu, mem: o.mem, samples: o.n });
        }
      }),
      { numRuns: 200 },
    );
  });
});
