import type { RollupRevisions } from '../cache/rollup-revisions.js';
import type { LivePublisher } from '../live/live-updates.js';
import { decodeChange } from '../core/region-orders.js';
import { ErrorCodes } from '../errors.js';
import type { ConsumedBatch, LogConsumer, LogProducer, OutgoingMessage, TopicLog } from '../ingest/topic-log.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { REGION_ORDER_TABLES, type OffsetChange, type RegionOrdersSink } from '../store/region-orders-store.js';
import { DLQ_HEADERS, deadLetterTopic } from './runner.js';

export interface RegionOrdersOptions {
  log: TopicLog;
  store: RegionOrdersSink;
  logger: Logger;
  metrics: Metrics;
  /** Prepended to the topics `orders` and `customers` and to the group `rollgate-region-orders`. */
  topicPrefix: string;
  revisions?: RollupRevisions;
  /** Told which regions' totals each transaction moved, for GraphQL subscribers. */
  live?: LivePublisher;
  /** Messages per store transaction. */
  chunk?: number;
}

export const REGION_ORDERS = 'region-orders';
const MAX_RETRY_DELAY_MS = 30_000;

export type RegionOrdersStatus = 'starting' | 'running' | 'waiting-for-store' | 'stopped';

/**
 * Runs the region-orders aggregator: consume CDC change events of `orders`
 * and `customers` (read_committed, as CDC writes in Kafka transactions) →
 * decode → apply to the MySQL mirror, totals, trend and offsets in one
 * transaction per chunk (see RegionOrdersStore). The store's offsets, not
 * Kafka's, decide what is new: Kafka's commit follows the store and is for
 * lag tools only, so it is never ahead and a restart re-reads at worst what
 * the store then skips.
 *
 * A change that cannot be applied goes to `<topic>.dlq` with its reason
 * before the offset moves past it, so it is never lost (after a crash in
 * between, it may be dead-lettered twice).
 */
export class RegionOrdersRunner {
  private consumer: LogConsumer | undefined;
  private dlq: LogProducer | undefined;
  private state: RegionOrdersStatus = 'starting';
  readonly topics: { orders: string; customers: string };
  readonly groupId: string;
  private readonly labels = { rollup: REGION_ORDERS };

  constructor(private readonly options: RegionOrdersOptions) {
    this.topics = { orders: `${options.topicPrefix}orders`, customers: `${options.topicPrefix}customers` };
    this.groupId = `${options.topicPrefix}rollgate-${REGION_ORDERS}`;
  }

  get status(): RegionOrdersStatus {
    return this.state;
  }

  async start(): Promise<void> {
    const { log, store, logger } = this.options;
    await this.withRetry('create the region-orders tables', () => store.ensureTables());
    for (const topic of Object.values(this.topics)) {
      await log.ensureTopic(topic, 1);
      await log.ensureTopic(deadLetterTopic(topic), 1);
    }
    this.dlq = await log.producer();
    this.state = 'running';
    const consumer = await log.consumer({ groupId: this.groupId, topics: Object.values(this.topics), fromBeginning: true });
    this.consumer = consumer;
    await consumer.start({ eachBatch: (batch, ctx) => this.handleBatch(batch, ctx.heartbeat) });
    logger.info({ topics: this.topics, group: this.groupId, log: log.kind }, 'region-orders aggregator started');
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    // Nothing is held in memory: every batch is in the store or will be read again.
    await this.consumer?.stop();
    await this.consumer?.close();
    await this.dlq?.close();
    this.options.logger.info('region-orders aggregator stopped');
  }

  private async handleBatch(batch: ConsumedBatch, heartbeat: () => Promise<void>): Promise<void> {
    if (this.state === 'stopped' || this.state === 'starting') return;
    const table = batch.topic === this.topics.orders ? 'orders' : 'customers';
    const { metrics, store } = this.options;
    const chunkSize = this.options.chunk ?? 500;
    for (let i = 0; i < batch.messages.length; i += chunkSize) {
      if (this.status === 'stopped') return;
      const messages = batch.messages.slice(i, i + chunkSize);
      const items: OffsetChange[] = [];
      const letters: Array<{ offset: number; letter: OutgoingMessage }> = [];
      for (const m of messages) {
        const decoded = decodeChange(table, m.value);
        if (decoded.ok) {
          items.push({ offset: m.offset, change: decoded.change });
          continue;
        }
        items.push({ offset: m.offset, change: undefined });
        metrics.deadLettered.inc({ ...this.labels, reason: 'change' });
        letters.push({ offset: m.offset, letter: {
          key: m.key,
          value: m.value ?? '',
          headers: {
            ...m.headers,
            [DLQ_HEADERS.code]: 'INVALID_EVENT',
            [DLQ_HEADERS.errCode]: String(ErrorCodes.INVALID_EVENT.errCode),
            [DLQ_HEADERS.reason]: decoded.reason,
            [DLQ_HEADERS.source]: `${batch.topic}/${batch.partition}/${m.offset}`,
          },
        } });
      }
      if (letters.length > 0) {
        // Only letters the store has not moved past yet: a replayed chunk would otherwise dead-letter them again.
        const resumeAt = await this.withRetry('read the stored offset', () => store.storedOffset(this.groupId, batch.topic, batch.partition));
        const fresh = letters.filter((l) => l.offset >= resumeAt).map((l) => l.letter);
        if (fresh.length > 0) await this.withRetry('send dead letters', async () => this.dlq?.send(deadLetterTopic(batch.topic), fresh), heartbeat);
      }
      const timer = metrics.sinkWriteSeconds.startTimer({ ...this.labels, store: 'mysql' });
      const result = await this.withRetry('write to the store', () => store.apply(this.groupId, batch.topic, batch.partition, items), heartbeat);
      timer();
      metrics.eventsIn.inc(this.labels, result.taken);
      const last = messages.at(-1);
      if (last !== undefined) metrics.consumerLag.set({ ...this.labels, partition: `${batch.topic}/${batch.partition}` }, Math.max(0, batch.highWatermark - last.offset - 1));
      if (result.changedResults && this.options.revisions !== undefined) {
        for (const t of [REGION_ORDER_TABLES.totals, REGION_ORDER_TABLES.trend]) {
          await this.options.revisions.advanced(t).catch((err: unknown) => this.options.logger.warn({ err }, 'could not announce the write to gateways'));
        }
      }
      if (result.changedRegions.length > 0 && this.options.live !== undefined) {
        await this.options.live
          .regionTotalsChanged(result.changedRegions)
          .catch((err: unknown) => this.options.logger.warn({ err }, 'could not tell subscribers the totals moved'));
      }
      await heartbeat().catch(() => undefined);
      if (result.taken > 0) {
        await this.consumer
          ?.commit([{ topic: batch.topic, partition: batch.partition, offset: result.nextOffset }])
          .catch((err: unknown) => this.options.logger.warn({ err }, 'kafka offset commit failed; the store offset stands'));
      }
    }
  }

  private async withRetry<T>(what: string, work: () => Promise<T>, heartbeat?: () => Promise<void>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const value = await work();
        if (this.state === 'waiting-for-store') {
          this.state = 'running';
          this.options.metrics.waitingForSink.set(this.labels, 0);
          this.options.logger.info('store accepts writes again');
        }
        return value;
      } catch (err) {
        if (this.state === 'stopped') throw err;
        if (this.state === 'running') {
          this.state = 'waiting-for-store';
          this.options.metrics.waitingForSink.set(this.labels, 1);
        }
        this.options.metrics.sinkWriteErrors.inc({ ...this.labels, store: 'mysql' });
        const delay = Math.min(MAX_RETRY_DELAY_MS, 250 * 2 ** Math.min(attempt, 10));
        this.options.logger.error({ err, retryInMs: delay }, `${what} failed; retrying`);
        await new Promise((resolve) => setTimeout(resolve, delay));
        await heartbeat?.().catch(() => undefined);
      }
    }
  }
}
