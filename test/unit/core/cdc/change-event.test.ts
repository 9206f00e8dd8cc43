import { describe, expect, it } from 'vitest';
import { CDC_WARNING_HEADER, changeRecords, primaryKeyJson, type RowChange, type SourceContext } from '../../../../src/core/cdc/change-event.js';
import type { TableSchema } from '../../../../src/core/cdc/column-values.js';

const orders: TableSchema = {
  database: 'rollgate',
  table: 'orders',
  columns: [
    { name: 'order_id', kind: 'integer' },
    { name: 'order_revenue', kind: 'float' },
    { name: 'order_region', kind: 'string' },
    { name: 'customer_id', kind: 'integer' },
    { name: 'create_time', kind: 'timestamp' },
  ],
  primaryKey: ['order_id'],
};
const context: SourceContext = { connectorName: 'rollgate', connector: 'mariadb', serverId: 1, database: 'rollgate' };
const at = new Date('2026-11-24T08:00:00Z');
const row = (id: number, revenue: number, region = '北京') => ({ order_id: id, order_revenue: revenue, order_region: region, customer_id: 7, create_time: at });
const change = (over: Partial<RowChange>): RowChange => ({
  table: 'orders',
  op: 'c',
  before: null,
  after: row(42, 12.34000015258789),
  position: { file: 'mysql-bin.000002', pos: 1169, row: 3 },
  sourceTsMs: 1_795_507_748_000,
  gtid: '0-1-5',
  snapshot: 'false',
  ...over,
});

describe('changeRecords', () => {
  it('builds the Debezium envelope of an insert, keyed by primary key', () => {
    const [record, ...rest] = changeRecords(change({}), orders, context, 1_795_507_749_000);
    expect(rest).toEqual([]);
    expect(record!.key).toBe('{"order_id":42}');
    expect(record!.headers).toEqual({});
    expect(record!.envelope).toEqual({
      before: null,
      after: { order_id: 42, order_revenue: 12.34, order_region: '北京', customer_id: 7, create_time: '2026-11-24T08:00:00Z' },
      source: {
        version: 'rollgate-cdc/1',
        connector: 'mariadb',
        name: 'rollgate',
        ts_ms: 1_795_507_748_000,
        snapshot: 'false',
        db: 'rollgate',
        table: 'orders',
        server_id: 1,
        gtid: '0-1-5',
        file: 'mysql-bin.000002',
        pos: 1169,
        row: 3,
        thread: null,
        query: null,
      },
      op: 'c',
      ts_ms: 1_795_507_749_000,
      transaction: null,
    });
    // The key order Debezium's JSON converter writes, which some consumers (and people) read by eye.
    expect(Object.keys(record!.envelope)).toEqual(['before', 'after', 'source', 'op', 'ts_ms', 'transaction']);
  });

  it('carries both images of an update and only the old one of a delete, keyed by the row it touched', () => {
    const [update] = changeRecords(change({ op: 'u', before: row(42, 10), after: row(42, 11) }), orders, context, 0);
    expect(update!.envelope).toMatchObject({ op: 'u', before: { order_revenue: 10 }, after: { order_revenue: 11 } });
    expect(update!.key).toBe('{"order_id":42}');
    const [del] = changeRecords(change({ op: 'd', before: row(42, 11), after: null }), orders, context, 0);
    expect(del!.envelope).toMatchObject({ op: 'd', before: { order_id: 42 }, after: null });
    expect(del!.key).toBe('{"order_id":42}');
  });

  it('turns a primary-key change into a delete of the old key and a create of the new one, as Debezium does', () => {
    const records = changeRecords(change({ op: 'u', before: row(42, 10), after: row(43, 10) }), orders, context, 0);
    expect(records.map((r) => [r.key, r.envelope.op])).toEqual([
      ['{"order_id":42}', 'd'],
      ['{"order_id":43}', 'c'],
    ]);
    expect(records[0]!.envelope.after).toBeNull();
    expect(records[1]!.envelope.before).toBeNull();
    expect(records[0]!.headers['__debezium.newkey']).toBe('{"order_id":43}');
    expect(records[1]!.headers['__debezium.oldkey']).toBe('{"order_id":42}');
  });

  it('marks snapshot reads', () => {
    const [read] = changeRecords(change({ op: 'r', snapshot: 'last' }), orders, context, 0);
    expect(read!.envelope.op).toBe('r');
    expect(read!.envelope.source.snapshot).toBe('last');
  });

  it('still emits a row it could not encode normally, with the reason in a header', () => {
    const [record] = changeRecords(change({ after: { ...row(42, 1), create_time: new Date(Number.NaN), extra: Buffer.from([1]) } }), orders, context, 0);
    expect(record!.envelope.after).toMatchObject({ order_id: 42, create_time: null, extra: 'AQ==' });
    expect(record!.headers[CDC_WARNING_HEADER]).toMatch(/create_time: invalid TIMESTAMP.*; extra: column unknown/);
  });

  it('has no key for a table without a primary key, and composite keys in key order', () => {
    const noKey: TableSchema = { ...orders, primaryKey: [] };
    expect(changeRecords(change({}), noKey, context, 0)[0]!.key).toBeNull();
    const composite: TableSchema = { ...orders, primaryKey: ['customer_id', 'order_id'] };
    expect(primaryKeyJson(composite, { order_id: 1, customer_id: 2 })).toBe('{"customer_id":2,"order_id":1}');
  });
});
