import { createEventDecoder } from '../core/event-schema.js';
import type { RollupSpec } from '../core/rollup-spec.js';
import { WindowedAggregation } from '../core/windowed-aggregation.js';
import { ErrorCodes, type ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ConsumedBatch, LogConsumer, LogProducer, TopicLog, TopicPartitionOffset } from '../ingest/topic-log.js';
import type { RollupStore } from '../store/rollup-store.js';

export interface AggregatorStats {
  consumed: number;
  deadLettered: number;
  rowsWritten: number;
  flushes: number;
}

export interface AggregatorOptions {
  spec: RollupSpec;
  log: TopicLog;
  store: RollupStore;
  logger: Logger;
  /** How often open windows are published as partial rows and offsets committed. */
  flushMs: number;
  /** Defaults to `rollgate-<spec name>`; tests use their own. */
  groupId?: string;
  /** Defaults to the spec's topic; tests use their own. */
  topic?: string;
}

export function deadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}

/**
 * Runs one rollup: consume → decode → fold into per-partition windows → write
 * rows → commit. Offsets are committed only after the rows they produced are
 * stored, and never past the first event of a window still open, so a restart
 * replays exactly what is needed to rebuild open windows.
 */
export class AggregatorRunner {
  private readonly decode;
  private readonly partitions = new Map<number, WindowedAggregation>();
  private consumer: LogConsumer | undefined;
  private dlq: LogProducer | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Serializes batch handling and timed flushes: both touch the same state. */
  private chain: Promise<void> = Promise.resolve();
  private lastFlush = 0;
  readonly stats: AggregatorStats = { consumed: 0, deadLettered: 0, rowsWritten: 0, flushes: 0 };
  readonly topic: string;

  constructor(private readonly options: AggregatorOptions) {
    this.decode = createEventDecoder(options.spec);
    this.topic = options.topic ?? options.spec.source.topic;
  }

  async start(): Promise<void> {
    const { spec, log, store, logger } = this.options;
    await store.ensureTable(spec);
    this.dlq = await log.producer();
    this.consumer = await log.consumer({
      groupId: this.options.groupId ?? `rollgate-${spec.name}`,
      topics: [this.topic],
      fromBeginning: true,
    });
    await this.consumer.start({
      eachBatch: (batch) => this.serialized(() => this.handleBatch(batch)),
      onPartitionsRevoked: (revoked) => {
        // The new owner replays from the committed offset; state kept here would go stale.
        for (const r of revoked) this.partitions.delete(r.partition);
      },
    });
    this.timer = setInterval(() => {
      this.serialized(() => this.flush()).catch((err: unknown) => logger.error({ err }, 'timed flush failed'));
    }, this.options.flushMs);
    logger.info({ topic: this.topic, store: store.kind, log: log.kind }, 'aggregator started');
  }

  /** Flushes what is open, commits, and lets go of the log. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.consumer?.stop();
    await this.serialized(() => this.flush());
    await this.consumer?.close();
    await this.dlq?.close();
    this.options.logger.info({ ...this.stats }, 'aggregator stopped');
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
    const dead: Array<{ key: string | null; value: string; headers: Record<string, string> }> = [];
    const reject = (code: ErrorCode, reason: string, m: ConsumedBatch['messages'][number]) =>
      dead.push({
        key: m.key,
        value: m.value?.toString('utf8') ?? '',
        headers: {
          'rollgate-error-code': String(ErrorCodes[code].errCode),
          'rollgate-error': code,
          'rollgate-reason': reason,
          'rollgate-source': `${batch.topic}/${batch.partition}/${m.offset}`,
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
      const added = engine.add(decoded.event, m.offset);
      if (added.kind === 'late') {
        reject('LATE_EVENT', `event time is behind the watermark ${new Date(added.watermark).toISOString()}; its window closed`, m);
      }
    }
    if (dead.length > 0) {
      // Dead letters must be durable before the offsets that skipped them are committed.
      await this.dlq?.send(deadLetterTopic(batch.topic), dead);
      this.stats.deadLettered += dead.length;
      this.options.logger.warn({ count: dead.length }, 'events dead-lettered');
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
  }
}
