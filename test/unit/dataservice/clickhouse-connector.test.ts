import { describe, expect, it } from 'vitest';
import { classifyServerError, exactRowsBeforeLimitOn } from '../../../src/dataservice/datasources/clickhouse-connector.js';

describe("which ClickHouse servers' rows_before_limit_at_least is an exact page total", () => {
  it.each([
    ['18.16.1', true],
    ['18.14.19', true],
    ['19.17.4.11', false],
    ['23.8.2.7', false],
    ['25.8.2.29', false],
    ['26.7.1.1', false],
    ['', false],
    ['not-a-version', false],
  ])('%s: %s', (version, exact) => {
    expect(exactRowsBeforeLimitOn(version)).toBe(exact);
  });
});

describe('ClickHouse server errors', () => {
  it.each([
    ['241', 'QUERY_TOO_COMPLEX', false, /MEMORY_LIMIT_EXCEEDED/],
    ['396', 'QUERY_TOO_COMPLEX', false, /TOO_MANY_ROWS_OR_BYTES/],
    ['164', 'DATASOURCE_ERROR', false, /read-only/],
    ['60', 'DATASOURCE_ERROR', false, /UNKNOWN_TABLE/],
    ['516', 'DATASOURCE_ERROR', false, /AUTHENTICATION_FAILED/],
    ['202', 'DATASOURCE_ERROR', true, /TOO_MANY_SIMULTANEOUS_QUERIES/],
    ['210', 'DATASOURCE_ERROR', true, /NETWORK_ERROR/],
    ['999', 'DATASOURCE_ERROR', false, /clickhouse error 999/],
  ])('code %s is %s (retriable: %s)', (serverCode, code, retriable, message) => {
    const err = classifyServerError('shop', serverCode);
    expect(err.code).toBe(code);
    expect(err.retriable).toBe(retriable);
    expect(err.message).toMatch(message);
    expect(err.message).toContain('data source "shop"');
  });
});
