import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric rollgate exports, in one registry per process, served as
 * Prometheus text at /metrics by the gateway and by each aggregator process.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly eventsIn = new Counter({ name: 'rollgate_events_in_total', help: 'Messages consumed', labelNames: ['rollup'], registers: [this.registry] });
  readonly eventsOutOfOrder = new Counter({
    name: 'rollgate_events_out_of_order_total',
    help: 'Events older than the newest seen on their partition, still within the lateness and counted',
    labelNames: ['rollup'],
    registers: [this.registry],
  });
  readonly eventsLate = new Counter({
    name: 'rollgate_events_late_total',
    help: 'Events behind the watermark, dead-lettered',
    labelNames: ['rollup'],
    registers: [this.registry],
  });
  readonly eventsFiltered = new Counter({
    name: 'rollgate_events_filtered_total',
    help: "Events the rollup's filter left out",
    labelNames: ['rollup'],
    registers: [this.registry],
  });
  readonly deadLettered = new Counter({
    name: 'rollgate_dead_letters_total',
    help: 'Messages sent to the dead-letter topic, by reason',
    labelNames: ['rollup', 'reason'],
    registers: [this.registry],
  });
  readonly windowsClosed = new Counter({
    name: 'rollgate_windows_closed_total',
    help: 'Windows the watermark closed and wrote as final',
    labelNames: ['rollup'],
    registers: [this.registry],
  });
  readonly rowsWritten = new Counter({ name: 'rollgate_rows_written_total', help: 'Rollup rows upserted', labelNames: ['rollup'], registers: [this.registry] });
  readonly checkpointBytes = new Histogram({
    name: 'rollgate_checkpoint_segment_bytes',
    help: 'Encoded size of each checkpoint segment written, by kind (base or delta)',
    labelNames: ['rollup', 'kind'],
    buckets: [1e3, 1e4, 1e5, 1e6, 1e7, 3e7, 1e8],
    registers: [this.registry],
  });
  readonly sinkWriteSeconds = new Histogram({
    name: 'rollgate_sink_write_seconds',
    help: 'Time to write one flush (dead letters, rows, checkpoints) to the store',
    labelNames: ['rollup', 'store'],
    // Up to minutes: a write slower than the store client's timeout is the failure to see.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly sinkWriteErrors = new Counter({
    name: 'rollgate_sink_write_errors_total',
    help: 'Failed flushes; each is retried with backoff',
    labelNames: ['rollup', 'store'],
    registers: [this.registry],
  });
  readonly waitingForSink = new Gauge({
    name: 'rollgate_aggregator_waiting_for_sink',
    help: '1 while an aggregator has paused fetching because its store does not accept writes',
    labelNames: ['rollup'],
    registers: [this.registry],
  });
  readonly consumerLag = new Gauge({
    name: 'rollgate_consumer_lag_messages',
    help: 'Messages between the last one consumed and the end of the partition',
    labelNames: ['rollup', 'partition'],
    registers: [this.registry],
  });
  readonly watermarkDelay = new Gauge({
    name: 'rollgate_watermark_delay_seconds',
    help: 'Wall clock minus the partition watermark',
    labelNames: ['rollup', 'partition'],
    registers: [this.registry],
  });
  readonly openGroups = new Gauge({
    name: 'rollgate_open_window_groups',
    help: 'Groups held in open windows (memory grows with this)',
    labelNames: ['rollup'],
    registers: [this.registry],
  });

  readonly cacheLookups = new Counter({
    name: 'rollgate_dataservice_cache_total',
    help: 'DataService result cache lookups: l1 and redis hits, misses, and bypasses (cache unusable: results read from the store)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly apiCalls = new Histogram({
    name: 'rollgate_dataservice_call_seconds',
    help: 'Published API calls, by API and outcome (the errCode, 0 for success)',
    labelNames: ['api', 'errCode'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });

  // rollgate cdc
  readonly cdcChanges = new Counter({
    name: 'rollgate_cdc_changes_total',
    help: 'Row changes CDC wrote to Kafka (op r: snapshot rows)',
    labelNames: ['table', 'op'],
    registers: [this.registry],
  });
  readonly cdcSnapshotRows = new Counter({
    name: 'rollgate_cdc_snapshot_rows_total',
    help: 'Rows read by the initial snapshot',
    labelNames: ['table'],
    registers: [this.registry],
  });
  readonly cdcWriteErrors = new Counter({
    name: 'rollgate_cdc_write_errors_total',
    help: 'Failed Kafka writes of change events; each is reconciled and retried',
    registers: [this.registry],
  });
  readonly cdcWaiting = new Gauge({
    name: 'rollgate_cdc_waiting',
    help: '1 while CDC waits for a dependency (reason kafka: writes refused; reason mysql: binlog unreadable)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly cdcLagSeconds = new Gauge({
    name: 'rollgate_cdc_lag_seconds',
    help: 'Wall clock minus the commit time of the newest change written',
    registers: [this.registry],
  });
  readonly wsConnections = new Gauge({
    name: 'rollgate_graphql_ws_connections',
    help: 'Open GraphQL WebSocket connections whose app authenticated',
    registers: [this.registry],
  });
  readonly wsSubscriptions = new Gauge({
    name: 'rollgate_graphql_ws_subscriptions',
    help: 'Subscriptions running on GraphQL WebSocket connections',
    registers: [this.registry],
  });
  readonly wsRefused = new Counter({
    name: 'rollgate_graphql_ws_refused_total',
    help: 'GraphQL WebSocket connections refused at connection_init, or closed once their credentials no longer held, by error code',
    labelNames: ['code'],
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'rollgate_' });
  }
}
