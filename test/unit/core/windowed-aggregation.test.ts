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
    const { rows } = agg.drain();
    expect(rows).toHaveLength(3);
    const a0 = rows.find((r) => r.group['ip'] === 'a' && r.windowStart === T0);
    expect(a0).toMatchObject({ final: false, measures: { mem: 300, cpu_usage_pct: 9, mem_usage_pct: 4.5, samples: 2 } });
  });

  it('keeps groups apart whose values only look alike (a separator inside a value, a number and its text)', () => {
    const spec = { ...cpuMem5min, groupBy: ['ip', 'host'] };
    const agg = new WindowedAggregation(spec);
    const at = (values: Record<string, string | number>, offset: number) =>
      agg.add({ timeMs: T0, values: { pid: 1, cpu_usage_pct: 1, mem_usage_pct: 1, mem_res: 1, timestamp: T0, ...values } }, offset);
    at({ ip: 'a:b', host: 'c' }, 0);
    at({ ip: 'a', host: 'b:c' }, 1);
    at({ ip: 's1:a', host: '' }, 2);
    at({ ip: 's', host: '1:a' }, 3);
    at({ ip: '7', host: 'x' }, 4);
    at({ ip: 7, host: 'x' }, 5);
    at({ ip: 7, host: 'x' }, 6);
    const { rows } = agg.drain();
    expect(rows.map((r) => [r.group, r.measures['samples']])).toEqual([
      [{ ip: 'a:b', host: 'c' }, 1],
      [{ ip: 'a', host: 'b:c' }, 1],
      [{ ip: 's1:a', host: '' }, 1],
      [{ ip: 's', host: '1:a' }, 1],
      [{ ip: '7', host: 'x' }, 1],
      [{ ip: 7, host: 'x' }, 2],
    ]);
  });

  it('closes a window once the watermark (max time - 60 s) reaches its end, and not before', () => {
    const agg = new WindowedAggregation(cpuMem5min);
    agg.add(ev('a', 1, T0 + MIN, 5), 0);
    agg.add(ev('a', 1, T0 + 5 * MIN + 59_999, 6), 1);
    expect(agg.hasClosedWindows()).toBe(false);
    expect(agg.drain().rows.every((r) => !r.final)).toBe(true);
    agg.add(ev('a', 1, T0 + 6 * MIN, 7), 2);
    expect(agg.hasClosedWindows()).toBe(true);
    const { rows, windowsClosed } = agg.drain();
    expect(rows.filter((r) => r.final).map((r) => r.windowStart)).toEqual([T0]);
    expect(windowsClosed).toBe(1);
    expect(agg.openWindowCount).toBe(1);
  });

  it('emits only changed groups of open windows as partial rows', () => {
    const agg = new WindowedAggregation(cpuMem5min);
    agg.add(ev('a', 1, T0, 5), 0);
    agg.add(ev('b', 1, T0, 5), 1);
    agg.drain();
    agg.add(ev('b', 1, T0 + 1000, 6), 2);
    expect(agg.drain().rows.map((r) => r.group['ip'])).toEqual(['b']);
    expect(agg.drain().rows).toEqual([]);
  });

  it('reports events behind the watermark as late and does not fold them', () => {
    const agg = new WindowedAggregation(cpuMem5min);
    agg.add(ev('a', 1, T0 + MIN, 5), 0);
    agg.add(ev('a', 1, T0 + 7 * MIN, 5), 1);
    agg.drain();
    const late = agg.add(ev('a', 1, T0 + 2 * MIN, 99), 2);
    expect(late).toEqual({ kind: 'late', windowStart: T0, watermark: T0 + 6 * MIN });
    // Within lateness: an older event for a window that is still open is folded.
    expect(agg.add(ev('a', 1, T0 + 5 * MIN + 1, 1), 3)).toEqual({ kind: 'accepted', outOfOrder: true });
  });

  it('restores from a snapshot exactly where it stopped, watermark and idle floor included', () => {
    const agg = new WindowedAggregation(cpuMem5min);
    agg.add(ev('a', 1, T0, 5), 10);
    agg.add(ev('a', 1, T0 + 6 * MIN, 7), 11);
    agg.drain();
    agg.raiseWatermark(T0 + 20 * MIN);
    const snapshot = JSON.parse(JSON.stringify(agg.snapshot()));
    expect(snapshot).toMatchObject({ nextOffset: 12, watermarkFloor: T0 + 20 * MIN });
    expect(agg.snapshot()).toBeUndefined(); // nothing changed since
    const restored = WindowedAggregation.restore(cpuMem5min, snapshot);
    expect(restored.nextOffset).toBe(12);
    expect(restored.watermark).toBe(agg.watermark);
    expect(restored.add(ev('a', 1, T0 + 6 * MIN + 1, 9), 12)).toMatchObject({ kind: 'late' });
  });

  it('lets an idle partition follow a raised watermark, never lowering it', () => {
    const agg = new WindowedAggregation(cpuMem5min);
    agg.add(ev('a', 1, T0, 5), 0);
    agg.raiseWatermark(T0 + 5 * MIN);
    expect(agg.hasClosedWindows()).toBe(true);
    agg.raiseWatermark(T0);
    expect(agg.watermark).toBe(T0 + 5 * MIN);
    expect(agg.drain().rows.map((r) => r.final)).toEqual([true]);
  });

  it('gives a more complete row a higher version, and the final row the highest', () => {
    const agg = new WindowedAggregation(cpuMem5min);
    agg.add(ev('a', 1, T0, 5), 0);
    const [first] = agg.drain().rows;
    agg.add(ev('a', 1, T0 + 1, 5), 1);
    const [second] = agg.drain().rows;
    agg.add(ev('a', 1, T0 + 20 * MIN, 5), 2);
    const closed = agg.drain().rows.find((r) => r.windowStart === T0);
    expect(first!.version).toBeLessThan(second!.version);
    expect(second!.version).toBeLessThan(closed!.version);
    expect(closed!.final).toBe(true);
  });

  it('matches a naive GROUP BY for any stream within lateness, through a crash and a replay from an older checkpoint', () => {
    const event = fc.record({
      host: fc.integer({ min: 0, max: 3 }),
      step: fc.integer({ min: 0, max: 200_000 }),
      jitter: fc.integer({ min: 0, max: 55_000 }), // out of order, but within the 60 s lateness
      cpu: fc.double({ min: 0, max: 400, noNaN: true }),
      mem: fc.integer({ min: 0, max: 2 ** 40 }),
    });
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 300 }), fc.nat(), fc.nat(), (spec, a, b) => {
        let t = T0 + 60_000;
        const events = spec.map((e) => {
          t += e.step;
          return ev(`h${e.host}`, e.host, t - e.jitter, e.cpu, e.mem);
        });
        const checkpointAt = a % events.length;
        const crashAt = checkpointAt + (b % (events.length - checkpointAt + 1));
        const latest = new Map<string, RollupRow>();
        const store = (rows: RollupRow[]) => {
          for (const r of rows) {
            const k = `${r.windowStart}|${r.group['ip']}`;
            const prev = latest.get(k);
            if (prev === undefined || r.version >= prev.version) latest.set(k, r);
          }
        };
        // First run: rows flushed at the checkpoint and again at the crash; only the first checkpoint survives.
        const first = new WindowedAggregation(cpuMem5min);
        events.slice(0, checkpointAt).forEach((e, i) => first.add(e, i));
        store(first.drain().rows);
        const snapshot = JSON.stringify(first.snapshot() ?? null);
        events.slice(checkpointAt, crashAt).forEach((e, i) => first.add(e, checkpointAt + i));
        store(first.drain().rows);
        // Restart: restore the checkpoint and replay everything after it.
        const parsed = JSON.parse(snapshot);
        const second = parsed === null ? new WindowedAggregation(cpuMem5min) : WindowedAggregation.restore(cpuMem5min, parsed);
        events.slice(checkpointAt).forEach((e, i) => second.add(e, checkpointAt + i));
        store(second.drain().rows);

        const oracle = new Map<string, { cpu: number; mem: number; n: number }>();
        for (const e of events) {
          const ws = Math.floor(e.timeMs / 300_000) * 300_000;
          const k = `${ws}|${e.values['ip']}`;
          const o = oracle.get(k) ?? { cpu: -1, mem: -1, n: 0 };
          oracle.set(k, { cpu: Math.max(o.cpu, Number(e.values['cpu_usage_pct'])), mem: Math.max(o.mem, Number(e.values['mem_res'])), n: o.n + 1 });
        }
        expect([...latest.keys()].sort()).toEqual([...oracle.keys()].sort());
        for (const [k, o] of oracle) {
          expect(latest.get(k)!.measures).toMatchObject({ cpu_usage_pct: o.cpu, mem: o.mem, samples: o.n });
        }
      }),
      { numRuns: 300 },
    );
  });
});
