import { describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../../aggregators/cpu-mem-5min.js';
import { createEventDecoder } from '../../../src/core/event-schema.js';

const decode = createEventDecoder(cpuMem5min);
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
    ['not JSON', '{ip:', 'value is not valid JSON'],
    ['a missing field', JSON.stringify({ ...good, pid: undefined }), 'pid: required'],
    ['a pid that is not an integer', JSON.stringify({ ...good, pid: '42' }), 'pid: must be integer'],
    ['a negative cpu', JSON.stringify({ ...good, cpu_usage_pct: -1 }), 'cpu_usage_pct: must be >= 0'],
    ['a pid above UInt32', JSON.stringify({ ...good, pid: 2 ** 32 }), 'pid: must be <= 4294967295'],
    ['a timestamp that is neither', JSON.stringify({ ...good, timestamp: 'yesterday' }), 'timestamp: must be epoch milliseconds or an ISO-8601 date-time string'],
    ['a JSON array', '[1,2]', '(payload): must be object'],
  ])('rejects %s with a reason naming the field', (_name, raw, reason) => {
    expect(decode(raw)).toEqual({ ok: false, reason });
  });

  it('rejects an empty message', () => {
    expect(decode(null)).toEqual({ ok: false, reason: 'message has no value' });
  });
});
