import { describe, expect, it } from 'vitest';
import { compareBinlogFiles, compareBinlogPositions, parseOffset, sameTables, serializeOffset, type CdcOffset } from '../../../../src/core/cdc/offset.js';

describe('binlog positions', () => {
  it('order files by their numeric suffix, then position, then row', () => {
    expect(compareBinlogFiles('mysql-bin.000009', 'mysql-bin.000010')).toBeLessThan(0);
    expect(compareBinlogFiles('mysql-bin.999999', 'mysql-bin.1000000')).toBeLessThan(0);
    expect(compareBinlogFiles('mysql-bin.000010', 'mysql-bin.000010')).toBe(0);
    const at = (file: string, pos: number, row: number) => ({ file, pos, row });
    const sorted = [at('b.000002', 4, 0), at('b.000001', 900, 3), at('b.000001', 900, 0), at('b.000001', 120, 7)].sort(compareBinlogPositions);
    expect(sorted).toEqual([at('b.000001', 120, 7), at('b.000001', 900, 0), at('b.000001', 900, 3), at('b.000002', 4, 0)]);
  });
});

describe('stored offsets', () => {
  const offset: CdcOffset = { file: 'mysql-bin.000003', pos: 4711, skip: 2, database: 'rollgate', tables: ['customers', 'orders'], gtid: '0-1-42', updatedAtMs: 1 };

  it('round-trip through their JSON record', () => {
    expect(parseOffset(serializeOffset(offset))).toEqual(offset);
  });

  it('refuse a record that is not an offset, rather than resume from a guess', () => {
    expect(() => parseOffset('{"file":"x"}')).toThrow();
    expect(() => parseOffset(JSON.stringify({ ...offset, pos: 2 }))).toThrow();
    expect(() => parseOffset(JSON.stringify({ ...offset, skip: -1 }))).toThrow();
    expect(() => parseOffset('not json')).toThrow();
  });

  it('compare table sets regardless of order', () => {
    expect(sameTables(['orders', 'customers'], ['customers', 'orders'])).toBe(true);
    expect(sameTables(['orders'], ['customers', 'orders'])).toBe(false);
  });
});
