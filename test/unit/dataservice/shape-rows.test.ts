import { describe, expect, it } from 'vitest';
import { checkDateFormat, shapeRows } from '../../../src/dataservice/shape-rows.js';

describe('shapeRows', () => {
  it('names, converts and formats response columns as declared', () => {
    const rows = shapeRows(
      [{ ts: new Date('2026-11-22T09:05:00Z'), d: new Date('2026-11-22T00:00:00Z'), n: '18446744073709551615', small: '42', f: 1, x: 'dropped' }],
      [
        { column: 'ts', type: 'DATETIME', description: '' },
        { column: 'd', name: 'day', type: 'DATE', description: '', dateFormat: 'yyyy/MM/dd' },
        { column: 'n', type: 'LONG', description: '' },
        { column: 'small', type: 'LONG', description: '' },
        { column: 'f', name: 'final', type: 'BOOLEAN', description: '' },
      ],
      false,
    );
    expect(rows).toEqual([{ ts: '2026-11-22T09:05:00.000Z', day: '2026/11/22', n: '18446744073709551615', small: 42, final: true }]);
  });

  it('passes undeclared script columns through with dates as ISO-8601', () => {
    expect(shapeRows([{ a: new Date(0), b: 2n, c: null }], [], true)).toEqual([{ a: '1970-01-01T00:00:00.000Z', b: 2, c: null }]);
  });

  it('refuses date patterns date-fns cannot format', () => {
    expect(checkDateFormat('yyyy-MM-dd HH:mm:ss')).toBeUndefined();
    expect(checkDateFormat('yyyy-MM-dd Tnope')).toBeDefined();
  });
});
