import { describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../../aggregators/cpu-mem-5min.js';
import { createEventDecoder } from '../../../src/core/event-schema.js';

const decode = createEventDecoder(cpuMem5min);
const oversized = JSON.stringify({ ip: '10.0.0.1', padding: 'x'.repeat(70_000) });
const good = { ip: '10.0.0.1', pid: 42, cpu_usage_pct: 12.5, mem_usage_pct: 3.25, mem_res: 1048576, timestamp: 1_790_000_000_000 };

describe('system_proc event decoder', () => {
  it('accepts epoch milliseconds', () => {
    const r = decode(JSON.stringify(good));
    expect(r).toEqual({ ok: true, event: { timeMs: good.timestamp, values: good } });
  });

  it('accepts ISO-8601 timestamps with an offset', () => {
    const r = decode(JSON.stringify({ ...good, timestamp: '2026-09-21T12:00:00.250+02:00' }));
    expect(r.ok && r.event.timeMs).toBe(Date.UTC(2026, 8, 21, 10, 0, 0, 250));
  });

  it('ignores extra fields producers add', () => {
    expect(decode(JSON.stringify({ ...good, host_name: 'web-1' })).ok).toBe(true);
  });

  it.each([
    ['not JSON', '{ip:', 'bad_json', 'value is not valid JSON'],
    ['a missing field', JSON.stringify({ ...good, pid: undefined }), 'schema', 'pid: required'],
    ['a pid that is not an integer', JSON.stringify({ ...good, pid: '42' }), 'schema', 'pid: must be integer'],
    ['a negative cpu', JSON.stringify({ ...good, cpu_usage_pct: -1 }), 'schema', 'cpu_usage_pct: must be >= 0'],
    ['a memory share above 100 %', JSON.stringify({ ...good, mem_usage_pct: 100.5 }), 'schema', 'mem_usage_pct: must be <= 100'],
    ['a pid above UInt32', JSON.stringify({ ...good, pid: 2 ** 32 }), 'schema', 'pid: must be <= 4294967295'],
    ['a number too large for a double', JSON.stringify(good).replace('"cpu_usage_pct":12.5', '"cpu_usage_pct":1e400'), 'schema', 'cpu_usage_pct: must be number'],
    ['a timestamp that is neither', JSON.stringify({ ...good, timestamp: 'yesterday' }), 'schema', 'timestamp: must be epoch milliseconds or an ISO-8601 date-time string'],
    ['a JSON array', '[1,2]', 'schema', '(payload): must be object'],
    ['an ip longer than 255 characters', JSON.stringify({ ...good, ip: 'x'.repeat(256) }), 'schema', 'ip: must NOT have more than 255 characters'],
    ['a payload over 64 KiB', oversized, 'too_large', `payload: ${Buffer.byteLength(oversized)} bytes is over the 65536-byte limit`],
  ])('rejects %s with a reason naming the field', (_name, raw, kind, reason) => {
    expect(decode(raw)).toEqual({ ok: false, kind, reason });
  });

  it('rejects an empty message', () => {
    expect(decode(null)).toEqual({ ok: false, kind: 'no_value', reason: 'message has no value' });
  });

  it("judges event times against the message's own timestamp, not the wall clock", () => {
    const sent = good.timestamp;
    expect(decode(JSON.stringify(good), sent + 5000).ok).toBe(true);
    expect(decode(JSON.stringify({ ...good, timestamp: sent + 2 * 3600_000 }), sent)).toEqual({
      ok: false,
      kind: 'time_range',
      reason: 'timestamp: more than 3600 s ahead of the message timestamp',
    });
    expect(decode(JSON.stringify({ ...good, timestamp: sent - 4 * 86_400_000 }), sent)).toEqual({
      ok: false,
      kind: 'time_range',
      reason: 'timestamp: older than the 3-day retention',
    });
  });
});
