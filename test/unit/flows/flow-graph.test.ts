import { describe, expect, it } from 'vitest';
import { rollups } from '../../../aggregators/index.js';
import { RollgateError } from '../../../src/errors.js';
import { compileFlow, physicalTable } from '../../../src/flows/flow-graph.js';
import { FlowNode } from '../../../src/flows/flow-nodes.js';
import { seedNodes } from '../../helpers/flows.js';

function nodes(raw: Array<Record<string, unknown>>): FlowNode[] {
  return raw.map((n) => FlowNode.parse(n));
}

function refusal(raw: Array<Record<string, unknown>>): RollgateError {
  try {
    compileFlow(7, nodes(raw), rollups);
  } catch (err) {
    expect(err).toBeInstanceOf(RollgateError);
    return err as RollgateError;
  }
  throw new Error('compiled');
}

/** Seed 000's nodes with one node changed. */
function withNode(index: number, changes: Record<string, unknown>): Array<Record<string, unknown>> {
  return seedNodes(591).map((n, i) => (i === index ? { ...n, ...changes } : n));
}

describe('compileFlow', () => {
  it("compiles seed 000 into the spec of cpu-mem-5min, on the flow's own topic, group and MySQL table", () => {
    const [chain, ...rest] = compileFlow(7, nodes(seedNodes(591)), rollups);
    expect(rest).toHaveLength(0);
    expect(chain?.nodeIds).toEqual({ source: 1, realtime: 2, storage: 3 });
    const spec = chain?.spec;
    expect(spec?.name).toBe('flow-7-3');
    expect(spec?.source.topic).toBe('591_system_proc');
    expect(spec?.source.keyFields).toEqual(['ip', 'pid']);
    expect(spec?.window).toEqual({ kind: 'tumbling', sizeSeconds: 300, latenessSeconds: 60 });
    expect(spec?.groupBy).toEqual(['ip', 'pid']);
    expect(spec?.measures.map((m) => m.name)).toEqual(['mem', 'cpu_usage_pct', 'mem_usage_pct']);
    expect(spec?.sink).toEqual({ store: 'mysql', table: 'cpu_mem_test_5min_591', retentionDays: 3 });
  });

  it('maps storage node types to stores, and BKData result table ids to table names', () => {
    expect(compileFlow(1, nodes(seedNodes(1, 'clickhouse_storage')), rollups)[0]?.spec.sink.store).toBe('clickhouse');
    expect(compileFlow(1, nodes(seedNodes(1, 'mysql_storage')), rollups)[0]?.spec.sink.store).toBe('mysql');
    expect(physicalTable('591_cpu_mem_test_5min')).toBe('cpu_mem_test_5min_591');
    expect(physicalTable('plain_table')).toBe('plain_table');
  });

  it('takes a schema given on the stream_source for a topic rollgate does not know', () => {
    const raw = withNode(0, {
      result_table_id: '9_app_log',
      fields: [
        { name: 'host', type: 'string' },
        { name: 'bytes', type: 'uint64' },
        { name: 'ts', type: 'timestamp' },
      ],
      time_field: 'ts',
      key_fields: ['host'],
    });
    raw[1] = { ...raw[1], sql: 'SELECT host, sum(bytes) AS bytes FROM 9_app_log GROUP BY host', from_nodes: [{ id: 1, from_result_table_ids: ['9_app_log'] }] };
    const chain = compileFlow(1, nodes(raw), rollups)[0];
    expect(chain?.spec.source.timeField).toBe('ts');
    expect(chain?.spec.measures[0]).toMatchObject({ op: 'sum', field: 'bytes', type: 'uint64' });
  });

  it("refuses a storage node on a built-in rollup's table or one of rollgate's own, however it is spelled", () => {
    for (const table of ['cpu_mem_5min', 'CPU_MEM_5min', 'proc_totals_5min', 'web_pv_5min', 'region_order_totals', 'region_orders_mirror_orders', 'rollgate_apps', 'rollgate_checkpoints', 'web_events', 'orders']) {
      const err = refusal(withNode(2, { result_table_id: table, node_type: 'clickhouse_storage' }));
      expect(err.code, table).toBe('INVALID_FLOW_GRAPH');
      expect(err.field, table).toBe('nodes[2].result_table_id');
      expect(err.message, table).toMatch(/belongs to/);
    }
    // A business-id prefix moves the name to a table of the flow's own.
    expect(compileFlow(7, nodes(withNode(2, { result_table_id: '591_cpu_mem_5min' })), rollups)[0]?.spec.sink.table).toBe('cpu_mem_5min_591');
  });

  it('refuses two storage nodes of one flow on the same table', () => {
    const raw = [...seedNodes(591), { ...seedNodes(591)[2], id: 4, result_table_id: '591_CPU_MEM_TEST_5MIN' }];
    const err = refusal(raw);
    expect(err.field).toBe('nodes[3].result_table_id');
    expect(err.message).toMatch(/already written by node 3/);
  });

  it('refuses a cycle', () => {
    const raw = withNode(1, { from_nodes: [{ id: 1, from_result_table_ids: ['591_system_proc'] }, { id: 3, from_result_table_ids: ['591_cpu_mem_test_5min'] }] });
    const e = refusal(raw);
    expect(e.code).toBe('INVALID_FLOW_GRAPH');
    expect(e.message).toMatch(/cycle: (2 -> 3 -> 2|3 -> 2 -> 3)/);
  });

  it('refuses an unknown input node and an unknown result table', () => {
    const unknownNode = refusal(withNode(2, { from_nodes: [{ id: 9, from_result_table_ids: ['591_system_proc_ip_grp'] }] }));
    expect(unknownNode.code).toBe('INVALID_FLOW_GRAPH');
    expect(unknownNode.field).toBe('nodes[2].from_nodes[0].id');
    expect(unknownNode.message).toMatch(/unknown node 9/);
    const unknownTable = refusal(withNode(2, { from_nodes: [{ id: 2, from_result_table_ids: ['591_nope'] }] }));
    expect(unknownTable.code).toBe('INVALID_FLOW_GRAPH');
    expect(unknownTable.message).toMatch(/unknown result table 591_nope/);
  });

  it('refuses duplicate ids, wrong kinds of input and a realtime node with no storage', () => {
    expect(refusal(withNode(2, { id: 2 })).message).toMatch(/appears twice/);
    expect(refusal(withNode(2, { from_nodes: [{ id: 1, from_result_table_ids: ['591_system_proc'] }] })).message).toMatch(/output of a realtime node/);
    expect(refusal(withNode(0, { from_nodes: [{ id: 2, from_result_table_ids: ['591_system_proc_ip_grp'] }] })).code).toBe('INVALID_FLOW_GRAPH');
    expect(refusal(seedNodes(591).slice(0, 2)).message).toMatch(/no storage node/);
  });

  it('refuses a topic with no known schema, fields missing from the schema, and SQL reading another table', () => {
    const unknownTopic = withNode(0, { result_table_id: '591_nope' });
    unknownTopic[1] = { ...unknownTopic[1], from_nodes: [{ id: 1, from_result_table_ids: ['591_nope'] }] };
    expect(refusal(unknownTopic).message).toMatch(/no event schema for topic 591_nope/);
    const missingField = refusal(withNode(1, { sql: 'SELECT ip, pid, max(disk) AS d FROM 591_system_proc GROUP BY ip, pid' }));
    expect(missingField.code).toBe('INVALID_FLOW_SQL');
    expect(missingField.field).toBe('nodes[1].sql');
    expect(missingField.message).toMatch(/unknown field disk/);
    expect(refusal(withNode(1, { sql: 'SELECT ip, pid, max(mem_res) AS m FROM other GROUP BY ip, pid' })).message).toMatch(/FROM other is not the input/);
  });

  it('refuses a GROUP BY that does not keep the topic key together (windows are per partition)', () => {
    const e = refusal(withNode(1, { sql: 'SELECT ip, max(mem_res) AS m FROM 591_system_proc GROUP BY ip' }));
    expect(e.code).toBe('INVALID_FLOW_SQL');
    expect(e.message).toMatch(/GROUP BY must include pid/);
  });

  it('maps scroll, slide and accumulate to tumbling, sliding and accumulating windows', () => {
    const windowOf = (changes: Record<string, unknown>) => compileFlow(1, nodes(withNode(1, changes)), rollups)[0]?.spec.window;
    expect(windowOf({ window_type: 'scroll', count_freq: 60, waiting_time: 10 })).toEqual({ kind: 'tumbling', sizeSeconds: 60, latenessSeconds: 10 });
    expect(windowOf({ window_type: 'slide', count_freq: 60, window_time: 10 })).toEqual({ kind: 'sliding', sizeSeconds: 600, slideSeconds: 60, latenessSeconds: 60 });
    expect(windowOf({ window_type: 'accumulate', count_freq: 300, window_time: 60, waiting_time: 0 })).toEqual({
      kind: 'accumulating',
      sizeSeconds: 3600,
      emitSeconds: 300,
      latenessSeconds: 0,
    });
  });

  it('refuses slide and accumulate windows without a usable window_time', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ window_type: 'slide' }, /needs window_time/],
      [{ window_type: 'accumulate' }, /needs window_time/],
      [{ window_type: 'slide', count_freq: 900, window_time: 10 }, /slide must be/],
      [{ window_type: 'accumulate', count_freq: 7, window_time: 1 }, /whole number/],
      [{ window_type: 'slide', count_freq: 1, window_time: 60 }, /3600 windows/],
    ];
    for (const [changes, reason] of cases) {
      const e = refusal(withNode(1, changes));
      expect(e.code).toBe('INVALID_PARAMETER');
      expect(e.field).toBe('nodes[1].window_time');
      expect(e.message).toMatch(reason);
    }
  });
});
