import { describe, expect, it } from 'vitest';
import { exactRowsBeforeLimitOn } from '../../../src/dataservice/datasources/clickhouse-connector.js';

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
