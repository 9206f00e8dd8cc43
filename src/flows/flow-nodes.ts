import { z } from 'zod';

/**
 * The node configurations of seed 000/001, as sent to `flows/create/`. Keys
 * rollgate does not use (`bk_biz_id` extras, `cluster`, `indexed_fields`,
 * `frontend_info`) are kept and returned as given.
 */
const FromNode = z.looseObject({
  id: z.number().int().positive(),
  from_result_table_ids: z.array(z.string().min(1).max(255)).min(1),
});

const common = {
  id: z.number().int().positive(),
  name: z.string().min(1).max(255),
  bk_biz_id: z.number().int().nonnegative().optional(),
  from_nodes: z.array(FromNode).default([]),
  frontend_info: z.record(z.string(), z.unknown()).optional(),
};

const RESULT_TABLE_ID = z.string().regex(/^[A-Za-z0-9_]{1,200}$/, 'must be letters, digits and _');
const FIELD_TYPE = z.enum(['string', 'uint32', 'uint64', 'int64', 'float64', 'timestamp']);

export const StreamSourceNode = z.looseObject({
  ...common,
  node_type: z.literal('stream_source'),
  /** The topic, business-id prefix included: `591_system_proc`. */
  result_table_id: RESULT_TABLE_ID,
  /**
   * The topic's payload schema, for topics rollgate has no event schema of
   * (schema/events/*.json covers the built-in ones). Needs `time_field` and
   * `key_fields` (what the producer keys messages by).
   */
  fields: z.array(z.looseObject({ name: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case identifier'), type: FIELD_TYPE })).min(1).optional(),
  time_field: z.string().min(1).optional(),
  key_fields: z.array(z.string().min(1)).min(1).optional(),
});

export const RealtimeNode = z.looseObject({
  ...common,
  node_type: z.literal('realtime'),
  sql: z.string().min(1).max(20_000),
  window_type: z.enum(['scroll', 'slide', 'accumulate']),
  /** Seconds: the window (scroll), how often it slides (slide), how often the running total is emitted (accumulate). */
  count_freq: z.number().int().positive().max(86_400),
  /** Minutes, as in BKData: the window length of slide, the period of accumulate; unused by scroll. */
  window_time: z.number().int().positive().max(10_080).optional(),
  /** Lateness in seconds: how long a window waits for out-of-order events. */
  waiting_time: z.number().int().nonnegative().max(86_400).default(0),
  table_name: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case identifier'),
  output_name: z.string().max(255).optional(),
});

const storage = {
  ...common,
  result_table_id: RESULT_TABLE_ID,
  /** Days rows are kept. */
  expires: z.number().int().positive().max(3650),
  cluster: z.string().max(255).optional(),
  indexed_fields: z.array(z.string().max(255)).optional(),
  /**
   * rollgate's own: publish a DataService API over the table when the flow
   * starts, at `/api<path>` (default `/dataflow/<result_table_id>`), in API group `dataflow`.
   */
  publish_api: z
    .union([
      z.boolean(),
      z.strictObject({
        path: z.string().regex(/^\/[A-Za-z0-9_\-/]{1,150}$/, 'must start with / and hold only letters, digits, _, - and /').optional(),
      }),
    ])
    .optional(),
};

export const StorageNode = z.discriminatedUnion('node_type', [
  z.looseObject({ ...storage, node_type: z.literal('clickhouse_storage') }),
  z.looseObject({ ...storage, node_type: z.literal('mysql_storage') }),
  /** TSpider is sharded MySQL: rollgate writes it to MySQL. */
  z.looseObject({ ...storage, node_type: z.literal('tspider_storage') }),
]);

export const FlowNode = z.discriminatedUnion('node_type', [StreamSourceNode, RealtimeNode, ...StorageNode.options]);

export type StreamSourceNode = z.output<typeof StreamSourceNode>;
export type RealtimeNode = z.output<typeof RealtimeNode>;
export type StorageNode = z.output<typeof StorageNode>;
export type FlowNode = z.output<typeof FlowNode>;

export function isStorage(node: FlowNode): node is StorageNode {
  return node.node_type === 'clickhouse_storage' || node.node_type === 'mysql_storage' || node.node_type === 'tspider_storage';
}

/** The result table a node produces, which downstream nodes name in `from_result_table_ids`. */
export function outputTableOf(node: FlowNode): string {
  switch (node.node_type) {
    case 'stream_source':
    case 'clickhouse_storage':
    case 'mysql_storage':
    case 'tspider_storage':
      return node.result_table_id;
    case 'realtime':
      return node.bk_biz_id === undefined ? node.table_name : `${node.bk_biz_id}_${node.table_name}`;
  }
}
