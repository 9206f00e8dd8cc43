import { validateSpec, type RollupSpec, type SourceField } from '../core/rollup-spec.js';
import { windowProblems, type WindowSpec } from '../core/window-assignment.js';
import { invalidParameter, RollgateError } from '../errors.js';
import { compileRealtimeSql, evaluate, FlowSqlError, type Predicate } from './compile-sql.js';
import { reservedTableOwner } from './owned-tables.js';
import { isStorage, outputTableOf, type FlowNode, type RealtimeNode, type StorageNode, type StreamSourceNode } from './flow-nodes.js';

/** One rollup a started flow runs: a stream source → realtime → storage chain. */
export interface CompiledChain {
  spec: RollupSpec;
  /** The compiled WHERE, kept beside the spec's filter function so deploy data can show it. */
  where: Predicate | undefined;
  nodeIds: { source: number; realtime: number; storage: number };
  /** Where to publish a DataService API over the table, when the storage node asks for one. */
  publishPath: string | undefined;
}

function graphError(field: string, message: string): RollgateError {
  return new RollgateError('INVALID_FLOW_GRAPH', `${field}: ${message}`, { field });
}

/**
 * Structural checks that need no schema: unique ids, inputs that exist,
 * no cycles, the right kind of input per node type, and result table ids
 * that name what the input node produces.
 */
export function validateGraph(nodes: readonly FlowNode[]): void {
  if (nodes.length === 0) throw graphError('nodes', 'a flow needs at least one node');
  const byId = new Map<number, FlowNode>();
  nodes.forEach((n, i) => {
    if (byId.has(n.id)) throw graphError(`nodes[${i}].id`, `node id ${n.id} appears twice`);
    byId.set(n.id, n);
  });
  nodes.forEach((n, i) => {
    n.from_nodes.forEach((from, j) => {
      const field = `nodes[${i}].from_nodes[${j}]`;
      const input = byId.get(from.id);
      if (input === undefined) throw graphError(`${field}.id`, `unknown node ${from.id}`);
      if (from.id === n.id) throw graphError(`${field}.id`, `node ${n.id} reads from itself`);
      const produced = outputTableOf(input);
      for (const table of from.from_result_table_ids) {
        if (table !== produced) throw graphError(`${field}.from_result_table_ids`, `unknown result table ${table}: node ${from.id} produces ${produced}`);
      }
    });
  });
  const cycle = findCycle(nodes);
  if (cycle !== undefined) throw graphError('nodes', `the graph has a cycle: ${cycle.join(' -> ')}`);
  nodes.forEach((n, i) => {
    const inputs = n.from_nodes.map((f) => byId.get(f.id) as FlowNode);
    const field = `nodes[${i}].from_nodes`;
    if (n.node_type === 'stream_source') {
      if (inputs.length > 0) throw graphError(field, 'a stream_source reads a topic, not other nodes');
    } else if (n.node_type === 'realtime') {
      if (inputs.length !== 1) throw graphError(field, 'a realtime node reads exactly one node');
      if (inputs[0]?.node_type !== 'stream_source') throw graphError(field, 'a realtime node reads a stream_source (chained realtime nodes are not supported)');
    } else {
      if (inputs.length !== 1) throw graphError(field, `a ${n.node_type} node stores exactly one node`);
      if (inputs[0]?.node_type !== 'realtime') throw graphError(field, `a ${n.node_type} node stores the output of a realtime node`);
    }
  });
}

/** Node ids around a cycle, or undefined (depth-first search, edges from input to reader). */
function findCycle(nodes: readonly FlowNode[]): number[] | undefined {
  const state = new Map<number, 'visiting' | 'done'>();
  const inputs = new Map(nodes.map((n) => [n.id, n.from_nodes.map((f) => f.id)]));
  const stack: number[] = [];
  const visit = (id: number): number[] | undefined => {
    const s = state.get(id);
    if (s === 'done') return undefined;
    if (s === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const from of inputs.get(id) ?? []) {
      const found = visit(from);
      if (found !== undefined) return found;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const n of nodes) {
    const found = visit(n.id);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** A topic's payload schema: given on the stream_source node, or a built-in rollup's source (schema/events/*.json). */
interface SourceSchema {
  fields: SourceField[];
  timeField: string;
  keyFields: string[];
}

function sourceSchema(node: StreamSourceNode, index: number, known: readonly RollupSpec[]): SourceSchema {
  const field = `nodes[${index}]`;
  if (node.fields !== undefined) {
    const fields: SourceField[] = node.fields.map((f) => ({ name: f.name, type: f.type, description: f.name }));
    const names = new Set(fields.map((f) => f.name));
    const timeField = node.time_field;
    if (timeField === undefined || fields.find((f) => f.name === timeField)?.type !== 'timestamp') {
      throw graphError(`${field}.time_field`, 'must name a field of type timestamp');
    }
    if (node.key_fields === undefined) throw graphError(`${field}.key_fields`, 'name the fields the producer keys messages by');
    for (const k of node.key_fields) if (!names.has(k)) throw graphError(`${field}.key_fields`, `${k} is not a field`);
    return { fields, timeField, keyFields: node.key_fields };
  }
  // The business id prefix (`591_`) is part of the topic name, not of the schema's name.
  const topic = node.result_table_id.replace(/^\d+_/, '');
  const spec = known.find((s) => s.source.topic === topic);
  if (spec === undefined) {
    const names = [...new Set(known.map((s) => s.source.topic))].join(', ');
    throw graphError(`${field}.result_table_id`, `no event schema for topic ${node.result_table_id}: known are ${names} (with any <bk_biz_id>_ prefix), or give fields, time_field and key_fields on the node`);
  }
  return { fields: spec.source.fields, timeField: spec.source.timeField, keyFields: spec.source.keyFields };
}

/**
 * The physical table of a storage result table. BKData names `<biz>_<name>`
 * tables `<name>_<biz>`; rollgate does the same, so table names never start
 * with a digit (ClickHouse and the literal formatter need plain identifiers).
 */
export function physicalTable(resultTableId: string): string {
  const m = /^(\d+)_(.+)$/.exec(resultTableId);
  return (m === null ? resultTableId : `${m[2]}_${m[1]}`).toLowerCase();
}

/**
 * Validates the graph and compiles every source → realtime → storage chain
 * into the RollupSpec the engine runs. The spec's name (and so its consumer
 * group) is `flow-<flowId>-<storage node id>`: stable across stop, restart and
 * worker changes, so offsets and results carry over.
 */
export function compileFlow(flowId: number, nodes: readonly FlowNode[], known: readonly RollupSpec[]): CompiledChain[] {
  validateGraph(nodes);
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const inputOf = (n: FlowNode): FlowNode => byId.get(n.from_nodes[0]?.id ?? -1) as FlowNode;
  const realtimeChains = new Map<number, { source: StreamSourceNode; schema: SourceSchema; compiled: ReturnType<typeof compileRealtimeSql> }>();
  for (const n of nodes) {
    if (n.node_type !== 'realtime') continue;
    const i = index.get(n.id) ?? 0;
    const source = inputOf(n) as StreamSourceNode;
    const schema = sourceSchema(source, index.get(source.id) ?? 0, known);
    windowOf(n, i);
    const compiled = compileRealtimeSql(n.sql, schema.fields, `nodes[${i}].sql`);
    const sourceTable = outputTableOf(source);
    if (compiled.from !== sourceTable) {
      throw new FlowSqlError(`FROM ${compiled.from} is not the input of this node: it reads ${sourceTable}`, undefined, `nodes[${i}].sql`);
    }
    const missingKeys = schema.keyFields.filter((k) => !compiled.groupBy.includes(k));
    if (missingKeys.length > 0) {
      // Windows are kept per Kafka partition; a group spread over partitions would be split between them.
      throw new FlowSqlError(
        `GROUP BY must include ${missingKeys.join(', ')}: topic ${sourceTable} is keyed (partitioned) by ${schema.keyFields.join(', ')}`,
        undefined,
        `nodes[${i}].sql`,
      );
    }
    realtimeChains.set(n.id, { source, schema, compiled });
  }
  const chains: CompiledChain[] = [];
  const tables = new Map<string, number>();
  for (const n of nodes) {
    if (!isStorage(n)) continue;
    const i = index.get(n.id) ?? 0;
    const table = physicalTable(n.result_table_id);
    const owner = reservedTableOwner(table);
    if (owner !== undefined) throw graphError(`nodes[${i}].result_table_id`, `table ${table} belongs to ${owner}: give the storage node a result table of its own`);
    const other = tables.get(table);
    if (other !== undefined) throw graphError(`nodes[${i}].result_table_id`, `table ${table} is already written by node ${other} of this flow`);
    tables.set(table, n.id);
    const realtime = inputOf(n) as RealtimeNode;
    const chain = realtimeChains.get(realtime.id);
    if (chain === undefined) continue;
    chains.push(buildChain(flowId, chain.source, realtime, n, chain.schema, chain.compiled, index.get(n.id) ?? 0, index.get(realtime.id) ?? 0));
  }
  nodes.forEach((n, i) => {
    if (n.node_type === 'realtime' && !chains.some((c) => c.nodeIds.realtime === n.id)) {
      throw graphError(`nodes[${i}]`, `realtime node ${n.id} has no storage node: its results would go nowhere`);
    }
  });
  return chains;
}

/** An event is folded into every window it is in: more than this many per event is refused as too costly. */
export const MAX_WINDOWS_PER_EVENT = 288;

/** scroll → tumbling of count_freq; slide → window_time minutes sliding by count_freq; accumulate → a window_time period emitted every count_freq. */
export function windowOf(n: RealtimeNode, i: number): WindowSpec {
  const lateness = n.waiting_time;
  if (n.window_type === 'scroll') return { kind: 'tumbling', sizeSeconds: n.count_freq, latenessSeconds: lateness };
  const field = `nodes[${i}].window_time`;
  if (n.window_time === undefined) throw invalidParameter(field, `${field}: a ${n.window_type} window needs window_time (minutes)`);
  const size = n.window_time * 60;
  const window: WindowSpec =
    n.window_type === 'slide'
      ? { kind: 'sliding', sizeSeconds: size, slideSeconds: n.count_freq, latenessSeconds: lateness }
      : { kind: 'accumulating', sizeSeconds: size, emitSeconds: n.count_freq, latenessSeconds: lateness };
  const problems = windowProblems(window);
  if (problems.length > 0) throw invalidParameter(field, `${field}: ${problems.join('; ')} (window_time ${n.window_time} min, count_freq ${n.count_freq} s)`);
  const perEvent = Math.ceil(size / n.count_freq);
  if (perEvent > MAX_WINDOWS_PER_EVENT) {
    throw invalidParameter(field, `${field}: each event would be in ${perEvent} windows; at most ${MAX_WINDOWS_PER_EVENT} (raise count_freq or shorten window_time)`);
  }
  return window;
}

function buildChain(
  flowId: number,
  source: StreamSourceNode,
  realtime: RealtimeNode,
  storage: StorageNode,
  schema: SourceSchema,
  compiled: ReturnType<typeof compileRealtimeSql>,
  storageIndex: number,
  index: number,
): CompiledChain {
  const where = compiled.where;
  const spec: RollupSpec = {
    name: `flow-${flowId}-${storage.id}`,
    description: realtime.output_name ?? realtime.name,
    source: { topic: source.result_table_id, timeField: schema.timeField, keyFields: schema.keyFields, fields: schema.fields },
    window: windowOf(realtime, index),
    groupBy: compiled.groupBy,
    measures: compiled.measures,
    ...(where === undefined ? {} : { filter: (values: Readonly<Record<string, string | number>>) => evaluate(where, values) }),
    sink: { store: storage.node_type === 'clickhouse_storage' ? 'clickhouse' : 'mysql', table: physicalTable(storage.result_table_id), retentionDays: storage.expires },
  };
  try {
    validateSpec(spec);
  } catch (err) {
    throw graphError(`nodes[${storageIndex}]`, err instanceof Error ? err.message : String(err));
  }
  const publish = storage.publish_api;
  const publishPath = publish === undefined || publish === false ? undefined : ((publish === true ? undefined : publish.path) ?? `/dataflow/${storage.result_table_id}`);
  return { spec, where, nodeIds: { source: source.id, realtime: realtime.id, storage: storage.id }, publishPath };
}
