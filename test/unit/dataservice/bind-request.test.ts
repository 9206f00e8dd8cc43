import { describe, expect, it } from 'vitest';
import { bindRequest, type RawRequest } from '../../../src/dataservice/bind-request.js';
import { ApiDefinitionSchema, type ApiDefinition } from '../../../src/dataservice/definition.js';
import type { RollgateError } from '../../../src/errors.js';

const def = (overrides: Record<string, unknown> = {}): ApiDefinition =>
  ApiDefinitionSchema.parse({
    mode: 'wizard',
    name: 'hosts_api',
    path: '/hosts',
    dataSource: 'src',
    table: 'hosts',
    requestParams: [
      { name: 'ip', column: 'ip', type: 'STRING', operator: '=', required: true },
      { name: 'pids', column: 'pid', type: 'INT', operator: 'in' },
      { name: 'range', column: 'cpu', type: 'DOUBLE', operator: 'between' },
      { name: 'minCpu', column: 'cpu', type: 'DOUBLE', operator: '>=', default: '0.5' },
    ],
    responseParams: [{ column: 'ip', type: 'STRING' }],
    ...overrides,
  });
const limits = { defaultPageSize: 50, maxPageSize: 2000 };
const bind = (raw: RawRequest, d = def()) => bindRequest(d, raw, 'mysql', limits);
const failure = (raw: RawRequest, d = def()): RollgateError => {
  try {
    bind(raw, d);
  } catch (err) {
    return err as RollgateError;
  }
  throw new Error('expected a failure');
};

describe('bindRequest', () => {
  it('binds given values, applies defaults and pages', () => {
    const b = bind({ query: { ip: '10.0.0.1', pids: '1,2,3', pageNum: '2', pageSize: '20' } });
    expect(b.values.get('ip')).toEqual({ kind: 'one', value: { type: 'STRING', value: '10.0.0.1' } });
    expect(b.values.get('pids')).toEqual({ kind: 'list', values: [1, 2, 3].map((value) => ({ type: 'INT', value })) });
    expect(b.values.get('minCpu')).toEqual({ kind: 'one', value: { type: 'DOUBLE', value: 0.5 } });
    expect(b.page).toEqual({ pageNum: 2, pageSize: 20 });
    expect(b.format).toBe('envelope');
  });

  it('gives equal requests equal cache keys whatever the spelling', () => {
    const a = bind({ query: { ip: 'x', pids: ['1', '2'], minCpu: '0.50' } });
    const b = bind({ query: { minCpu: '5e-1', pids: '1,2', ip: 'x', pageNum: '1' } });
    expect(a.cacheKey).toBe(b.cacheKey);
    expect(bind({ query: { ip: 'y' } }).cacheKey).not.toBe(a.cacheKey);
  });

  it('says which parameter is missing, unknown, repeated or malformed', () => {
    expect(failure({ query: {} })).toMatchObject({ code: 'MISSING_PARAMETER', field: 'ip' });
    expect(failure({ query: { ip: 'x', ipp: 'y' } })).toMatchObject({ code: 'INVALID_PARAMETER', field: 'ipp' });
    expect(failure({ query: { ip: ['x', 'y'] } })).toMatchObject({ code: 'INVALID_PARAMETER', field: 'ip' });
    expect(failure({ query: { ip: 'x', pids: '1,a' } })).toMatchObject({ code: 'INVALID_PARAMETER', field: 'pids' });
    expect(failure({ query: { ip: 'x', range: '3' } })).toMatchObject({ code: 'INVALID_PARAMETER', field: 'range' });
    expect(failure({ query: { ip: 'x', range: '3,1' } })).toMatchObject({ code: 'INVALID_PARAMETER', field: 'range' });
    expect(failure({ query: { ip: 'x', pids: Array.from({ length: 1001 }, (_, i) => String(i)).join(',') } })).toMatchObject({ field: 'pids' });
    expect(failure({ query: { ip: 'x', pageSize: '2001' } })).toMatchObject({ code: 'INVALID_PARAMETER', field: 'pageSize' });
    expect(failure({ query: { ip: 'x', pageNum: '0' } })).toMatchObject({ code: 'INVALID_PARAMETER', field: 'pageNum' });
    expect(failure({ query: { ip: 'x', format: 'xml' } })).toMatchObject({ code: 'INVALID_PARAMETER', field: 'format' });
  });

  it('takes a JSON body only for POST APIs, and a parameter from one place only', () => {
    expect(failure({ query: {}, body: { ip: 'x' } })).toMatchObject({ code: 'INVALID_PARAMETER', field: 'body' });
    const post = def({ method: 'POST' });
    expect(bind({ query: {}, body: { ip: 'x', pids: [1, 2], range: [1, 2.5] } }, post).values.get('range')).toEqual({
      kind: 'list',
      values: [
        { type: 'DOUBLE', value: 1 },
        { type: 'DOUBLE', value: 2.5 },
      ],
    });
    expect(failure({ query: { ip: 'x' }, body: { ip: 'y' } }, post)).toMatchObject({ code: 'INVALID_PARAMETER', field: 'ip' });
    expect(failure({ query: {}, body: { ip: { $gt: '' } } }, post)).toMatchObject({ code: 'INVALID_PARAMETER', field: 'ip' });
    expect(failure({ query: {}, body: [1] }, post)).toMatchObject({ code: 'INVALID_PARAMETER', field: 'body' });
  });

  it('answers DataV mode per request or per API, and ignores paging on unpaged APIs', () => {
    expect(bind({ query: { ip: 'x', format: 'datav' } }).format).toBe('datav');
    expect(bind({ query: { ip: 'x' } }, def({ datav: true })).format).toBe('datav');
    expect(bind({ query: { ip: 'x', format: 'json' } }, def({ datav: true })).format).toBe('envelope');
    expect(bind({ query: { ip: 'x', pageNum: '3' } }, def({ pagination: false })).page).toBeUndefined();
  });
});
