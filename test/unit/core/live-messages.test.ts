import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRegionTotalsMessage, decodeRowsMessage, matchesRow, rowsMessages, type LiveRow } from '../../../src/core/live-messages.js';
import type { RollupRow } from '../../../src/core/windowed-aggregation.js';

const T0 = Date.UTC(2026, 10, 22, 9, 0, 0);
const row = (i: number, final = false): RollupRow => ({
  windowStart: T0 + (i % 12) * 300_000,
  group: { ip: `10.0.${i % 7}.${i % 250}`, pid: i },
  measures: { mem: i * 1000, cpu_usage_pct: i / 3, mem_usage_pct: 1.5, samples: i + 1 },
  final,
  version: i + 1,
});

describe('rowsMessages', () => {
  it('sends a write as one message when it fits', () => {
    const messages = rowsMessages('cpu-mem-5min', [row(1), row(2, true)]);
    expect(messages).toHaveLength(1);
    expect(JSON.parse(messages[0]!)).toEqual({
      rollup: 'cpu-mem-5min',
      rows: [
        { windowStart: T0 + 300_000, group: { ip: '10.0.1.1', pid: 1 }, measures: { mem: 1000, cpu_usage_pct: 1 / 3, mem_usage_pct: 1.5, samples: 2 }, final: false },
        { windowStart: T0 + 600_000, group: { ip: '10.0.2.2', pid: 2 }, measures: { mem: 2000, cpu_usage_pct: 2 / 3, mem_usage_pct: 1.5, samples: 3 }, final: true },
      ],
    });
    expect(rowsMessages('cpu-mem-5min', [])).toEqual([]);
  });

  it('cuts a large write into messages under the bound that together hold every row once, in order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 300, max: 20_000 }), (count, maxBytes) => {
        const rows = Array.from({ length: count }, (_, i) => row(i, i % 5 === 0));
        const messages = rowsMessages('r', rows, maxBytes);
        for (const m of messages) expect(Buffer.byteLength(m)).toBeLessThanOrEqual(maxBytes);
        const back = messages.flatMap((m) => decodeRowsMessage(JSON.parse(m))!.rows);
        expect(back.map((r) => r.group['pid'])).toEqual(rows.map((r) => r.group['pid']));
      }),
      { numRuns: 60 },
    );
  });

  it('still sends a row larger than the bound, alone', () => {
    const messages = rowsMessages('r', [row(1), row(2), row(3)], 50);
    expect(messages).toHaveLength(3);
  });
});

describe('decoding what arrives from Redis', () => {
  it('drops anything that is not a well-formed message', () => {
    for (const junk of [null, 3, 'x', [], {}, { rollup: 'r' }, { rollup: 'r', rows: [{}] }, { rollup: 'r', rows: [{ windowStart: -1, group: {}, measures: {}, final: true }] }, { rollup: 1, rows: [] }]) {
      expect(decodeRowsMessage(junk), JSON.stringify(junk)).toBeUndefined();
    }
    for (const junk of [null, {}, { regions: 'north' }, { regions: [1] }]) expect(decodeRegionTotalsMessage(junk)).toBeUndefined();
    expect(decodeRegionTotalsMessage({ regions: ['north'] })).toEqual({ regions: ['north'] });
  });

  it('decodes one message object once, however many subscribers ask', () => {
    const payload = JSON.parse(rowsMessages('r', [row(1)])[0]!) as object;
    expect(decodeRowsMessage(payload)).toBe(decodeRowsMessage(payload));
  });
});

describe('matchesRow', () => {
  const r: LiveRow = { windowStart: T0, group: { ip: '10.0.0.1', pid: 7 }, measures: {}, final: false };

  it('matches every field asked for, and ignores the ones left out', () => {
    expect(matchesRow(r, {})).toBe(true);
    expect(matchesRow(r, { group: { ip: '10.0.0.1', pid: undefined } })).toBe(true);
    expect(matchesRow(r, { group: { ip: '10.0.0.1', pid: 7 } })).toBe(true);
    expect(matchesRow(r, { group: { ip: '10.0.0.2' } })).toBe(false);
    expect(matchesRow(r, { group: { pid: 8 } })).toBe(false);
    expect(matchesRow(r, { finalOnly: true })).toBe(false);
    expect(matchesRow({ ...r, final: true }, { finalOnly: true })).toBe(true);
    expect(matchesRow(r, { finalOnly: false })).toBe(true);
  });

  it('matches window starts in [from, to)', () => {
    expect(matchesRow(r, { from: T0, to: T0 + 1 })).toBe(true);
    expect(matchesRow(r, { from: T0 + 1 })).toBe(false);
    expect(matchesRow(r, { to: T0 })).toBe(false);
  });
});
