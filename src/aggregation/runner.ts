import { randomUUID } from 'node:crypto';
import type { RollupRevisions } from '../cache/rollup-revisions.js';
import type { LivePublisher } from '../live/live-updates.js';
import { createEventDecoder, messageKey, type DeadLetterReason } from '../core/event-schema.js';
import { idleRaises } from '../core/idleness.js';
import type { RollupSpec } from '../core/rollup-spec.js';
import { encodeCheckpoint } from '../core/checkpoint-codec.js';
import { WindowedAggregation, latestPerKey, type EngineCheckpoint, type RollupRow } from '../core/windowed-aggregation.js';
import { ErrorCodes, type ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { ConsumedBatch, ConsumedMessage, LogConsumer, LogProducer, OutgoingMessage, TopicLog } from '../ingest/topic-log.js';
import type { CheckpointSegment, RollupStore } from '../store/rollup-store.js';

export interface AggregatorOptions {
  spec: RollupSpec;
  log: TopicLog;
  store: RollupStore;
  logger: Logger;
  metrics: Metrics;
  /** How often open windows are published as partial rows and state is checkpointed. */
  flushMs: number;
  /** A partition with no message for this long follows the other partitions' watermark. */
  idleMs: number;
  /** Prepended to the spec's topic and to the consumer group `rollgate-<spec name>`. */
  topicPrefix: string;
  /** Clock for idleness, retention and metrics only; event time never comes from it. */
  now?: () => number;
  /** Told after every write that changed rows, so gateways re-key cached results of this rollup. */
  revisions?: RollupRevisions;
  /** Given the rows of every write, for GraphQL subscribers (one message per write). */
  live?: LivePublisher;
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

const MAX_RETRY_DELAY_MS = 30_000;
/** Dead letters waiting for the next flush; beyond this a batch waits for the flush. */
const MAX_BUFFERED_DEAD_LETTERS = 5000;
const RETENTION_EVERY_MS = 3600_000;
const DEAD_LETTER_REQUEST_BYTES = 256 * 1024;

/**
 * A checkpoint is a base and the deltas written on it (see resolveChain). A
 * new base starts a chain after this many deltas, or once the deltas hold
 * more groups than this share of the open ones: restoring reads the whole chain.
 */
const MAX_DELTAS = 16;
const MAX_DELTA_SHARE = 0.5;
/** Rows per store write where rows are not transactional with the checkpoint (ClickHouse): each part is durable on its own. */
const ROWS_PER_WRITE = 50_000;

/** The partition's last segment the store acknowledged: the next delta applies on it. */
interface ChainHead {
  chainId: string;
  slot: number;
  nextOffset: number;
  /** Groups in the deltas since the base. */
  deltaGroups: number;
}

interface PartitionState {
  engine: WindowedAggregation;
  lastMessageAt: number;
  /** Undefined until this process has written a base: the first segment after a restore is one. */
  chain: ChainHead | undefined;
}

/** A segment waiting for the store, and what becomes of the partition's chain once it is there. */
interface PendingSegment {
  segment: CheckpointSegment;
  engine: WindowedAggregation;
  generation: number;
  head: ChainHead;
}

/**
 * What one flush must make durable, kept until it is: retried after a failure,
 * with what a later flush adds. Parts already durable leave it (dead letters,
 * and rows where the store writes them apart from the checkpoint), so a retry
 * resends only the rest.
 */
interface PendingWrite {
  rows: RollupRow[];
  /** Rows already stored by an earlier attempt, for the announcements after the write. */
  written: RollupRow[];
  /** A later segment of a partition replaces its pending one: it covers every change since the acknowledged one. */
  checkpoints: Map<number, PendingSegment>;
  deadLetters: OutgoingMessage[];
  windowsClosed: number;
}

export type AggregatorStatus = 'starting' | 'running' | 'waiting-for-store' | 'stopped';

/**
 * Runs one rollup: consume → decode → fold into per-partition windows → write
 * rows and checkpoints → commit.
 *
 * Exactly once comes from determinism, not from transactions across systems:
 * a partition's open-window state and next offset are checkpointed in the
 * store with the rows they produced; on assignment the state is restored and
 * messages below the checkpoint are skipped. Everything after it is replayed
 * through the same pure engine (event times are judged against message
 * timestamps, not the clock), so it rewrites the very rows already stored,
 * which the stores' version-keeping upserts make a no-op.
 *
 * A failed write is kept and retried with backoff while fetching is paused, so
 * memory stays bounded and nothing is lost; the Kafka commit (for lag tools)
 * follows the store.
 */
export class AggregatorRunner {
  private readonly decode;
  private readonly partitions = new Map<number, PartitionState>();
  private readonly restoring = new Map<number, Promise<PartitionState>>();
  private consumer: LogConsumer | undefined;
  private dlq: LogProducer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private deadLetters: OutgoingMessage[] = [];
  private pending: PendingWrite | undefined;
  private flushing: Promise<void> | undefined;
  private idleCheck: Promise<void> | undefined;
  private failures = 0;
  private retryAt = 0;
  private lastRetention = 0;
  private state: AggregatorStatus = 'starting';
  private readonly now: () => number;
  private readonly labels: { rollup: string };
  readonly topic: string;
  readonly groupId: string;

  constructor(private readonly options: AggregatorOptions) {
    this.decode = createEventDecoder(options.spec);
    this.topic = options.topicPrefix + options.spec.source.topic;
    this.groupId = `${options.topicPrefix}rollgate-${options.spec.name}`;
    this.now = options.now ?? Date.now;
    this.labels = { rollup: options.spec.name };
  }

  get status(): AggregatorStatus {
    return this.state;
  }

  async start(): Promise<void> {
    const { spec, log, store, logger } = this.options;
    await store.ensureTable(spec);
    // Created up front: a first send to a missing topic makes Kafka clients log errors while it is auto-created.
    await log.ensureTopic(deadLetterTopic(this.topic), 1);
    this.dlq = await log.producer();
    this.options.metrics.waitingForSink.set(this.labels, 0);
    // Running before the first batch can arrive: batches seen in any other state are dropped.
    this.state = 'running';
    const consumer = await log.consumer({ groupId: this.groupId, topics: [this.topic], fromBeginning: true });
    this.consumer = consumer;
    await consumer.start({
      eachBatch: (batch) => this.handleBatch(batch),
      onPartitionsRevoked: (revoked) => {
        // The new owner restores from the checkpoint; state kept here would go stale.
        for (const r of revoked) this.partitions.delete(r.partition);
      },
    });
    this.timer = setInterval(() => this.tick(), this.options.flushMs);
    logger.info({ topic: this.topic, group: this.groupId, store: store.kind, log: log.kind }, 'aggregator started');
  }

  /** Flushes and checkpoints what is open, commits, and leaves the group. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    // From here on batches are ignored, so the final flush covers exactly what was folded.
    this.state = 'stopped';
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.flushing?.catch(() => undefined);
    try {
      await this.flush();
    } catch (err) {
      this.options.logger.error({ err }, 'final flush failed; the next start resumes from the last checkpoint');
    }
    await this.consumer?.stop();
    await this.consumer?.close();
    await this.dlq?.close();
    this.options.logger.info('aggregator stopped');
  }

  private tick(): void {
    if (this.state === 'stopped' || this.state === 'starting') return;
    // While fetching is paused every partition falls silent; that is not idleness.
    if (this.state === 'running' && this.idleCheck === undefined) {
      this.idleCheck = this.followIdlePartitions()
        .catch((err: unknown) => this.options.logger.warn({ err }, 'idle check failed; will try again'))
        .finally(() => {
          this.idleCheck = undefined;
        });
    }
    if (this.flushing !== undefined || this.now() < this.retryAt) return;
    void this.flush().catch(() => undefined);
    if (this.now() - this.lastRetention > RETENTION_EVERY_MS) void this.enforceRetention();
  }

  /** Idle partitions follow the others (see idleRaises), so their windows close as the stream moves on. */
  private async followIdlePartitions(): Promise<void> {
    const now = this.now();
    let candidates = false;
    for (const [partition, p] of this.partitions) {
      if (Number.isFinite(p.engine.watermark)) {
        this.options.metrics.watermarkDelay.set({ ...this.labels, partition: String(partition) }, (now - p.engine.watermark) / 1000);
      }
      candidates ||= p.engine.openWindowCount > 0 && now - p.lastMessageAt >= this.options.idleMs;
    }
    // Asking the log for end offsets only when some partition has been silent long enough.
    if (!candidates) return;
    const ends = await this.options.log.endOffsets(this.topic);
    if (this.state !== 'running') return;
    const progress = [...this.partitions].map(([partition, p]) => ({
      partition,
      watermark: p.engine.watermark,
      eventWatermark: p.engine.eventWatermark,
      openWindows: p.engine.openWindowCount,
      silentForMs: this.now() - p.lastMessageAt,
      nextOffset: p.engine.nextOffset ?? 0,
    }));
    for (const [partition, target] of idleRaises(progress, ends, this.options.idleMs)) this.partitions.get(partition)?.engine.raiseWatermark(target);
  }

  private async handleBatch(batch: ConsumedBatch): Promise<void> {
    if (this.state === 'stopped' || this.state === 'starting') return;
    const p = this.partitions.get(batch.partition) ?? (await this.restore(batch.partition));
    // stop() may have begun while the checkpoint loaded.
    if (this.status === 'stopped') return;
    const { engine } = p;
    const { metrics, spec } = this.options;
    const resumeAt = engine.nextOffset ?? 0;
    let folded = 0;
    let last: ConsumedMessage | undefined;
    // Synchronous from here to the end of the loop: no other batch or flush can interleave.
    for (const m of batch.messages) {
      if (m.offset < resumeAt) continue; // already in the restored state
      last = m;
      folded += 1;
      const decoded = this.decode(m.value, m.timestampMs);
      if (!decoded.ok) {
        engine.skip(m.offset);
        this.deadLetter(batch, m, 'INVALID_EVENT', decoded.kind, decoded.reason);
        continue;
      }
      const key = messageKey(spec, decoded.event);
      if (m.key !== key) {
        // Windows are kept per partition: a series spread over partitions by a wrong key would be split.
        engine.skip(m.offset);
        this.deadLetter(batch, m, 'INVALID_EVENT', 'key', `key: must be "${key}" (the payload's ${spec.source.keyFields.join(':')}), got ${JSON.stringify(m.key)}`);
        continue;
      }
      if (spec.filter !== undefined && !spec.filter(decoded.event.values)) {
        engine.skip(m.offset);
        metrics.eventsFiltered.inc(this.labels);
        continue;
      }
      const added = engine.add(decoded.event, m.offset);
      if (added.kind === 'late') {
        metrics.eventsLate.inc(this.labels);
        this.deadLetter(batch, m, 'LATE_EVENT', 'late', `event time is behind the watermark ${new Date(added.watermark).toISOString()}; its window closed`);
      } else if (added.outOfOrder) {
        metrics.eventsOutOfOrder.inc(this.labels);
      }
    }
    if (last === undefined) return;
    const lag = Math.max(0, batch.highWatermark - last.offset - 1);
    p.lastMessageAt = this.now();
    metrics.eventsIn.inc(this.labels, folded);
    metrics.consumerLag.set({ ...this.labels, partition: String(batch.partition) }, lag);
    // Closed windows go out at once; a full dead-letter buffer makes the consumer wait for the flush.
    if (engine.hasClosedWindows() || this.deadLetters.length >= MAX_BUFFERED_DEAD_LETTERS) {
      if (this.now() >= this.retryAt) await this.flushAfterCurrent().catch(() => undefined);
    }
  }

  /**
   * A flush that includes what was just folded. One already in flight took its
   * rows before this batch, so sharing it would leave a window closed here
   * unpublished until the next tick (bench:freshness saw final rows of some
   * partitions wait a whole flush interval); another flush follows it instead.
   */
  private async flushAfterCurrent(): Promise<void> {
    if (this.flushing !== undefined) {
      await this.flushing.catch(() => undefined);
      if (this.now() < this.retryAt) return;
    }
    await this.flush();
  }

  /** Loads the partition's checkpoint once, however many batches arrive while it loads. */
  private restore(partition: number): Promise<PartitionState> {
    let loading = this.restoring.get(partition);
    if (loading === undefined) {
      loading = (async () => {
        const checkpoint = await this.withRetry('load checkpoint', () => this.options.store.loadCheckpoint(this.groupId, this.topic, partition));
        const engine =
          checkpoint === undefined ? new WindowedAggregation(this.options.spec) : WindowedAggregation.restoreFrom(this.options.spec, checkpoint.states);
        const state: PartitionState = { engine, lastMessageAt: this.now(), chain: undefined };
        this.partitions.set(partition, state);
        this.options.logger.info(
          { partition, resumeAt: engine.nextOffset ?? null, openWindows: engine.openWindowCount, deltas: checkpoint?.deltas ?? null },
          'partition assigned',
        );
        return state;
      })().finally(() => this.restoring.delete(partition));
      this.restoring.set(partition, loading);
    }
    return loading;
  }

  private deadLetter(batch: ConsumedBatch, m: ConsumedMessage, code: ErrorCode, kind: DeadLetterReason, reason: string): void {
    this.options.metrics.deadLettered.inc({ ...this.labels, reason: kind });
    this.deadLetters.push({
      key: m.key,
      value: m.value ?? '',
      headers: {
        ...m.headers,
        [DLQ_HEADERS.code]: code,
        [DLQ_HEADERS.errCode]: String(ErrorCodes[code].errCode),
        [DLQ_HEADERS.reason]: reason,
        [DLQ_HEADERS.source]: `${batch.topic}/${batch.partition}/${m.offset}`,
      },
    });
  }

  /** One flush at a time; callers during a flush share it. */
  private flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    const { spec, store, metrics, logger } = this.options;
    // Taken synchronously, so rows, state and dead letters describe the same moment.
    const write: PendingWrite = this.pending ?? { rows: [], written: [], checkpoints: new Map(), deadLetters: [], windowsClosed: 0 };
    let groups = 0;
    const taken: Array<{ partition: number; p: PartitionState; checkpoint: EngineCheckpoint }> = [];
    for (const [partition, p] of this.partitions) {
      const drained = p.engine.drain();
      // Not push(...rows): a partition of 1M series drains more rows than a call takes arguments (~120k), and the throw would lose them.
      for (const row of drained.rows) write.rows.push(row);
      write.windowsClosed += drained.windowsClosed;
      groups += p.engine.openGroupCount;
      const checkpoint = p.engine.checkpoint((changed, open) => this.segmentKind(p.chain, changed, open));
      if (checkpoint !== undefined) taken.push({ partition, p, checkpoint });
    }
    write.rows = latestPerKey(spec, write.rows);
    write.deadLetters.push(...this.deadLetters.splice(0));
    metrics.openGroups.set(this.labels, groups);
    // Compressed on libuv's thread pool; the states were copied above, so batches fold meanwhile.
    for (const { partition, p, checkpoint } of taken) write.checkpoints.set(partition, await this.segment(partition, p, checkpoint));
    if (write.rows.length === 0 && write.checkpoints.size === 0 && write.deadLetters.length === 0) return;

    const timer = metrics.sinkWriteSeconds.startTimer({ ...this.labels, store: store.kind });
    const segments = [...write.checkpoints.values()];
    try {
      // Dead letters first: the checkpoint below moves past the messages they stand for.
      await this.sendDeadLetters(write);
      if (store.transactional) {
        await store.write(spec, write.rows, segments.map((s) => s.segment));
        // concat, not push(...): a flush at 1M series is more rows than a call takes arguments.
        write.written = write.written.concat(write.rows);
        write.rows = [];
      } else {
        // Bounded requests, each durable on its own; the checkpoint only after all of them.
        while (write.rows.length > 0) {
          const part = write.rows.slice(0, ROWS_PER_WRITE);
          await store.write(spec, part, []);
          write.written = write.written.concat(part);
          write.rows = write.rows.slice(part.length);
        }
        for (const s of segments) {
          await store.write(spec, [], [s.segment]);
          this.acknowledge(s);
          write.checkpoints.delete(s.segment.partition);
        }
      }
      timer();
    } catch (err) {
      this.pending = write;
      this.failures += 1;
      const delay = Math.min(MAX_RETRY_DELAY_MS, 250 * 2 ** Math.min(this.failures, 10));
      this.retryAt = this.now() + delay;
      metrics.sinkWriteErrors.inc({ ...this.labels, store: store.kind });
      if (this.state === 'running') {
        this.state = 'waiting-for-store';
        metrics.waitingForSink.set(this.labels, 1);
        this.consumer?.pause();
      }
      logger.error({ err, retryInMs: delay, rows: write.rows.length, segments: write.checkpoints.size }, 'write failed; fetching paused, will retry');
      throw err;
    }
    for (const s of write.checkpoints.values()) this.acknowledge(s);
    this.pending = undefined;
    this.failures = 0;
    this.retryAt = 0;
    const rows = write.written;
    metrics.rowsWritten.inc(this.labels, rows.length);
    if (rows.length > 0 && this.options.revisions !== undefined) {
      // Best effort: if the announcement is lost, cached pages of this rollup live until their TTL.
      await this.options.revisions.advanced(spec.sink.table).catch((err: unknown) => logger.warn({ err }, 'could not announce the write to gateways'));
    }
    if (rows.length > 0 && this.options.live !== undefined) {
      // Best effort too: a subscriber misses this update, the store has it.
      await this.options.live.rollupRows(spec.name, rows).catch((err: unknown) => logger.warn({ err }, 'could not publish the rows to subscribers'));
    }
    metrics.windowsClosed.inc(this.labels, write.windowsClosed);
    if (this.state === 'waiting-for-store') {
      this.state = 'running';
      metrics.waitingForSink.set(this.labels, 0);
      this.consumer?.resume();
      logger.info('store accepts writes again; fetching resumed');
    }
    // For lag tools only: the store's checkpoint is what a restart resumes from.
    const offsets = segments.map(({ segment: c }) => ({ topic: c.topic, partition: c.partition, offset: c.nextOffset }));
    await this.consumer?.commit(offsets).catch((err: unknown) => logger.warn({ err }, 'kafka offset commit failed; the store checkpoint stands'));
  }

  /** A base when there is no chain yet or it has grown long; a delta on the acknowledged head otherwise. */
  private segmentKind(chain: ChainHead | undefined, changedGroups: number, openGroups: number): 'base' | 'delta' {
    if (chain === undefined || chain.slot >= MAX_DELTAS) return 'base';
    return chain.deltaGroups + changedGroups > openGroups * MAX_DELTA_SHARE ? 'base' : 'delta';
  }

  /** Placed on the partition's acknowledged chain head, so a segment that replaces a failed one takes its slot. */
  private async segment(partition: number, p: PartitionState, checkpoint: EngineCheckpoint): Promise<PendingSegment> {
    const { data, generation, groups } = checkpoint;
    const state = await encodeCheckpoint(data);
    const chain = p.chain;
    const base = data.kind === 'base' || chain === undefined;
    const head: ChainHead = base
      ? { chainId: randomUUID(), slot: 0, nextOffset: data.nextOffset, deltaGroups: 0 }
      : { chainId: chain.chainId, slot: chain.slot + 1, nextOffset: data.nextOffset, deltaGroups: chain.deltaGroups + groups };
    this.options.metrics.checkpointBytes.observe({ ...this.labels, kind: data.kind }, state.length);
    return {
      engine: p.engine,
      generation,
      head,
      segment: {
        groupId: this.groupId,
        topic: this.topic,
        partition,
        slot: head.slot,
        chainId: head.chainId,
        kind: base ? 'base' : 'delta',
        nextOffset: data.nextOffset,
        parentOffset: base ? null : (chain?.nextOffset ?? null),
        state,
      },
    };
  }

  /** The store holds the segment: later deltas apply on it, unless the partition was reassigned meanwhile. */
  private acknowledge(s: PendingSegment): void {
    const p = this.partitions.get(s.segment.partition);
    if (p?.engine !== s.engine) return;
    s.engine.acknowledge(s.generation);
    p.chain = s.head;
  }

  /**
   * In requests well under Kafka's default 1 MB limit: one oversized request
   * would be refused whole and retried forever. Sent letters leave the pending
   * write, so a retry resends only the rest.
   */
  private async sendDeadLetters(write: PendingWrite): Promise<void> {
    while (write.deadLetters.length > 0) {
      let bytes = 0;
      let count = 0;
      for (const letter of write.deadLetters) {
        const size = (typeof letter.value === 'string' ? Buffer.byteLength(letter.value) : letter.value.length) + 512;
        if (count > 0 && bytes + size > DEAD_LETTER_REQUEST_BYTES) break;
        bytes += size;
        count += 1;
      }
      await this.dlq?.send(deadLetterTopic(this.topic), write.deadLetters.slice(0, count));
      write.deadLetters = write.deadLetters.slice(count);
    }
  }

  private async enforceRetention(): Promise<void> {
    this.lastRetention = this.now();
    const { spec, store, logger } = this.options;
    try {
      await store.dropBefore(spec, this.now() - spec.sink.retentionDays * 86_400_000);
    } catch (err) {
      logger.warn({ err }, 'retention cleanup failed; will try again in an hour');
    }
  }

  private async withRetry<T>(what: string, work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (err) {
        if (this.state === 'stopped') throw err;
        const delay = Math.min(MAX_RETRY_DELAY_MS, 250 * 2 ** Math.min(attempt, 10));
        this.options.logger.error({ err, retryInMs: delay }, `${what} failed; retrying`);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}
