import { createEventDecoder, messageKey } from '../core/event-schema.js';
import type { RollupSpec } from '../core/rollup-spec.js';
import { WindowedAggregation } from '../core/windowed-aggregation.js';
import { ErrorCodes, type ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ConsumedBatch, LogConsumer, LogProducer, OutgoingMessage, TopicLog, TopicPartitionOffset } from '../ingest/topic-log.js';
import type { RollupStore } from '../store/rollup-store.js';

export interface AggregatorStats {
  consumed: number;
  deadLettered: number;
  rowsWritten: number;
  flushes: number;
  restarts: number;
}

export interface AggregatorOptions {
  spec: RollupSpec;
  log: TopicLog;
  store: RollupStore;
  logger: Logger;
  /** How often open windows are published as partial rows and offsets committed. */
  flushMs: number;
  /** Prepended to the spec's topic and to the consumer group `rollgate-<spec name>`. */
  topicPrefix: string;
}

export function deadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}

/** The reason a dead letter carries, in headers, beside the original key and value. */
export const DLQ_HEADERS = {
  code: 'rollgate-error',
  errCode: 'rollgate-error-code',
  reason: 'rollgate-reason',
  source: 'rollgate-source',
} as const;

const MAX_RESTART_DELAY_MS = 30_000;

/**
 * Runs one rollup: consume → decode → fold into per-partition windows → write
 * rows → commit. Offsets are committed only after the rows they produced are
 * stored, and never past the first event of a window still open, so a restart
 * replays exactly what is needed to rebuild open windows.
 *
 * When a write fails (store or dead-letter topic down), in-memory state may be
 * ahead of what is durable. Rather than patching it, the runner drops all
 * state, closes its consumer and starts a new one, which resumes from the
 * committed offsets; retries back off up to 30 s.
 */
export class AggregatorRunner {
  private readonly decode;
  private readonly partitions = new Map<number, WindowedAggregation>();
  private consumer: LogConsumer | undefined;
  private dlq: LogProducer | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Serializes batch handling and flushes: both touch the same state. */
  private chain: Promise<void> = Promise.resolve();
  private lastFlush = 0;
  private state: 'idle' | 'running' | 'recovering' | 'stopped' = 'idle';
  private recovery: Promise<void> | undefined;
  private consecutiveFailures = 0;
  readonly stats: AggregatorStats = { consumed: 0, deadLettered: 0, rowsWritten: 0, flushes: 0, restarts: 0 };
  readonly topic: string;
  readonly groupId: string;

  constructor(private readonly options: AggregatorOptions) {
    this.decode = createEventDecoder(options.spec);
    this.topic = options.topicPrefix + options.spec.source.topic;
    this.groupId = `${options.topicPrefix}rollgate-${options.spec.name}`;
  }

  async start(): Promise<void> {
    const { spec, log, store, logger } = this.options;
    await store.ensureTable(spec);
    // Created up front: a first send to a missing topic makes Kafka clients log errors while it is auto-created.
    await log.ensureTopic(deadLetterTopic(this.topic), 1);
    this.dlq = await log.producer();
    // Running before the first batch can arrive: batches seen in any other state are dropped.
    this.state = 'running';
    await this.startConsumer();
    this.timer = setInterval(() => {
      if (this.state !== 'running') return;
      this.serialized(() => this.flush()).catch((err: unknown) => this.fail(err));
    }, this.options.flushMs);
    logger.info({ topic: this.topic, group: this.groupId, store: store.kind, log: log.kind }, 'aggregator started');
  }

  /** Flushes what is open, commits, and lets go of the log. */
  async stop(): Promise<void> {
    const wasRunning = this.state === 'running';
    // From here on batches are ignored, so the final flush covers exactly what was folded.
    this.state = 'stopped';
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.recovery;
    // Kafka accepts commits only while the consumer is still in its group: flush before stopping it.
    if (wasRunning) await this.serialized(() => this.flush()).catch((err: unknown) => this.options.logger.error({ err }, 'final flush failed'));
    await this.consumer?.stop();
    await this.consumer?.close();
    await this.dlq?.close();
    this.options.logger.info({ ...this.stats }, 'aggregator stopped');
  }

  private async startConsumer(): Promise<void> {
    const consumer = await this.options.log.consumer({ groupId: this.groupId, topics: [this.topic], fromBeginning: true });
    this.consumer = consumer;
    await consumer.start({
      eachBatch: async (batch) => {
        if (this.state !== 'running') return;
        await this.serialized(() => this.handleBatch(batch)).catch((err: unknown) => this.fail(err));
      },
      onPartitionsRevoked: (revoked) => {
        // The new owner replays from the committed offset; state kept here would go stale.
        for (const r of revoked) this.partitions.delete(r.partition);
      },
    });
  }

  private fail(err: unknown): void {
    if (this.state !== 'running') return;
    this.state = 'recovering';
    this.consecutiveFailures += 1;
    this.partitions.clear();
    const delay = Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** Math.min(this.consecutiveFailures, 10));
    this.options.logger.error({ err, retryInMs: delay }, 'write failed; restarting the consumer from the committed offsets');
    // Not awaited here: we may be inside the consumer's own batch callback, which stop() waits for.
    this.recovery = (async () => {
      await this.consumer?.stop().catch(() => undefined);
      await this.consumer?.close().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.state !== 'recovering') return;
      this.state = 'running';
      try {
        await this.startConsumer();
        this.stats.restarts += 1;
      } catch (restartErr) {
        this.fail(restartErr);
      }
    })();
  }

  private serialized(work: () => Promise<void>): Promise<void> {
    const next = this.chain.then(work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async handleBatch(batch: ConsumedBatch): Promise<void> {
    let engine = this.partitions.get(batch.partition);
    if (engine === undefined) {
      engine = new WindowedAggregation(this.options.spec);
      this.partitions.set(batch.partition, engine);
    }
    const dead: OutgoingMessage[] = [];
    const reject = (code: ErrorCode, reason: string, m: ConsumedBatch['messages'][number]) =>
      dead.push({
        key: m.key,
        value: m.value ?? '',
        headers: {
          [DLQ_HEADERS.code]: code,
          [DLQ_HEADERS.errCode]: String(ErrorCodes[code].errCode),
          [DLQ_HEADERS.reason]: reason,
          [DLQ_HEADERS.source]: `${batch.topic}/${batch.partition}/${m.offset}`,
        },
      });
    for (const m of batch.messages) {
      this.stats.consumed += 1;
      const decoded = this.decode(m.value);
      if (!decoded.ok) {
        engine.skip(m.offset);
        reject('INVALID_EVENT', decoded.reason, m);
        continue;
      }
      const key = messageKey(this.options.spec, decoded.event);
      if (m.key !== key) {
        // Windows are kept per partition: a series spread over partitions by a wrong key would be split.
        engine.skip(m.offset);
        reject('INVALID_EVENT', `key: must be "${key}" (the payload's ${this.options.spec.source.keyFields.join(':')}), got ${JSON.stringify(m.key)}`, m);
        continue;
      }
      const added = engine.add(decoded.event, m.offset);
      if (added.kind === 'late') {
        reject('LATE_EVENT', `event time is behind the watermark ${new Date(added.watermark).toISOString()}; its window closed`, m);
      }
    }
    if (dead.length > 0) {
      // Dead letters must be durable before the offsets that skipped them are committed.
      await this.dlq?.send(deadLetterTopic(batch.topic), dead);
      this.stats.deadLettered += dead.length;
      this.options.logger.warn({ count: dead.length, topic: deadLetterTopic(batch.topic) }, 'events dead-lettered');
    }
    if (engine.hasClosedWindows() || Date.now() - this.lastFlush >= this.options.flushMs) await this.flush();
  }

  private async flush(): Promise<void> {
    const { spec, store } = this.options;
    const rows = [...this.partitions.values()].flatMap((engine) => engine.drain());
    if (rows.length > 0) {
      await store.upsert(spec, rows);
      this.stats.rowsWritten += rows.length;
    }
    const offsets: TopicPartitionOffset[] = [];
    for (const [partition, engine] of this.partitions) {
      const offset = engine.commitOffset();
      if (offset !== undefined) offsets.push({ topic: this.topic, partition, offset });
    }
    await this.consumer?.commit(offsets);
    this.lastFlush = Date.now();
    this.stats.flushes += 1;
    this.consecutiveFailures = 0;
  }
}
