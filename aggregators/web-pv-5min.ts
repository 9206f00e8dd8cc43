import type { RollupSpec } from '../src/core/rollup-spec.js';

/**
 * Seed 003: page views (events) and unique visitors per (app, page, event type)
 * and 5 minutes, from what the browser monitor snippet reports through
 * `/monitor/upload`. `uv` is a HyperLogLog estimate (2^12 registers, ~1.6 %
 * standard error; near exact below a few hundred visitors).
 */
export const webPv5min: RollupSpec = {
  name: 'web-pv-5min',
  description: 'Page views and unique visitors (HyperLogLog, ~1.6 % error) per (app_id, page_id, event_type) in tumbling 5-minute windows',
  source: {
    topic: 'web_events',
    timeField: 'timestamp',
    keyFields: ['app_id', 'page_id', 'event_type'],
    fields: [
      { name: 'app_id', type: 'string', description: 'Application id (seed 003 appId)' },
      { name: 'page_id', type: 'string', description: 'Page id (seed 003 pageId)' },
      { name: 'event_type', type: 'string', description: 'Event type: pv, click, exp, ... (seed 003 eventType)' },
      { name: 'visitor_id', type: 'string', description: 'Visitor identity: the client uid, or a hash of user agent and client IP' },
      { name: 'timestamp', type: 'timestamp', description: 'Event time: epoch milliseconds' },
    ],
  },
  window: { kind: 'tumbling', sizeSeconds: 300, latenessSeconds: 60 },
  groupBy: ['app_id', 'page_id', 'event_type'],
  measures: [
    { name: 'pv', op: 'count', type: 'uint64', description: 'Events in the window (page views when event_type is pv)' },
    { name: 'uv', op: 'distinct', field: 'visitor_id', type: 'uint64', description: 'Distinct visitors, estimated (HyperLogLog, ~1.6 % standard error)' },
  ],
  sink: { store: 'clickhouse', table: 'web_pv_5min', retentionDays: 7 },
};
