import { describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../../aggregators/cpu-mem-5min.js';
import { parseRollupParams, type RawParams } from '../../../src/dataservice/rollup-params.js';
import { RollgateError } from '../../../src/errors.js';

const limits = { defaultPageSize: 50, maxPageSize: 1000 };
const parse = (raw: RawParams) => parseRollupParams(cpuMem5min, raw, limits);

function rejection(raw: RawParams): { code: string; field: string | undefined } {
  try {
    parse(raw);
  } catch (err) {
    if (err instanceof RollgateError) return { code: err.code, field: err.field };
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('parseRollupParams', () => {
  it('defaults to the first page of the default size with no filters', () => {
    expect(parse({})).toEqual({
      pageNum: 1,
      pageSize: 50,
      query: { equals: {}, fromMs: undefined, toMs: undefined, finalOnly: false, limit: 50, offset: 0 },
    });
    expect(parse({ final: 'true' }).query.finalOnly).toBe(true);
  });

  it('converts query-string values and computes the offset', () => {
    const r = parse({ ip: '10.0.0.1', pid: '42', from: '2026-01-01T00:00:00Z', to: '1767229200000', pageNum: '3', pageSize: '20' });
    expect(r.query).toEqual({
      equals: { ip: '10.0.0.1', pid: 42 },
      fromMs: Date.UTC(2026, 0, 1),
      toMs: 1767229200000,
      finalOnly: false,
      limit: 20,
      offset: 40,
    });
  });

  it('treats empty strings as absent, as DataV-style widgets send them', () => {
    expect(parse({ ip: '', pid: '', pageSize: '' }).query.equals).toEqual({});
  });

  it.each<[string, RawParams, string]>([
    ['a pid that is not a number', { pid: 'abc' }, 'pid'],
    ['a pid above UInt32', { pid: '4294967296' }, 'pid'],
    ['a negative pid', { pid: '-1' }, 'pid'],
    ['pageSize 0', { pageSize: '0' }, 'pageSize'],
    ['pageSize above the cap', { pageSize: '1001' }, 'pageSize'],
    ['a fractional pageSize', { pageSize: '2.5' }, 'pageSize'],
    ['pageNum 0', { pageNum: '0' }, 'pageNum'],
    ['from after to', { from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'from'],
    ['a from that is not a time', { from: 'last tuesday' }, 'from'],
    ['an invalid Date', { to: new Date(Number.NaN) }, 'to'],
    ['a repeated ip', { ip: ['10.0.0.1', '10.0.0.2'] }, 'ip'],
    ['a final that is not a boolean', { final: 'maybe' }, 'final'],
  ])('rejects %s as INVALID_PARAMETER naming the parameter', (_name, raw, field) => {
    expect(rejection(raw)).toEqual({ code: 'INVALID_PARAMETER', field });
  });
});
