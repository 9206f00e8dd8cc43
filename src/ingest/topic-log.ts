/**
 * The port every producer and aggregator talks to. Kafka implements it for
 * real deployments, `MemoryLog` for the embedded demo; the aggregation runner
 * cannot tell them apart.
 */
export interface OutgoingMessage {
  key: string | null;
  /** Bytes are passed through untouched, so a dead letter keeps the original payload exactly. */
  value: string | Buffer;
  headers?: Record<string, string>;
}

export interface ConsumedMessage {
  offset: number;
  /** The producer's (or broker's) timestamp, epoch ms: a reference that replays see unchanged. */
  timestampMs: number;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface ConsumedBatch {
  topic: string;
  partition: number;
  messages: ConsumedMessage[];
  /** The partition's end offset when fetched, for lag. */
  highWatermark: number;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** The next offset to read, as Kafka commits it. */
  offset: number;
}

export interface BatchHandlerContext {
  /** Kafka needs a sign of life during long work; a no-op in memory. */
  heartbeat(): Promise<void>;
  isRunning(): boolean;
}

export interface ConsumerHandlers {
  eachBatch(batch: ConsumedBatch, ctx: BatchHandlerContext): Promise<void>;
  /** Partitions taken away by a rebalance or a stop: their in-memory state must go. */
  onPartitionsRevoked?(partitions: Array<{ topic: string; partition: number }>): void;
}

export interface LogConsumer {
  start(handlers: ConsumerHandlers): Promise<void>;
  commit(offsets: TopicPartitionOffset[]): Promise<void>;
  /** Stops fetching and waits for the batch in hand; commits still work afterwards. */
  stop(): Promise<void>;
  /** Holds fetching (the group membership stays) until resume(). */
  pause(): void;
  resume(): void;
  /** Leaves the group and disconnects. */
  close(): Promise<void>;
}

export interface LogProducer {
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface TopicLog {
  readonly kind: 'kafka' | 'memory';
  ensureTopic(topic: string, partitions: number): Promise<void>;
  producer(): Promise<LogProducer>;
  consumer(options: { groupId: string; topics: string[]; fromBeginning: boolean }): Promise<LogConsumer>;
  /** The next offset each partition of `topic` will be written at (its end). */
  endOffsets(topic: string): Promise<Map<number, number>>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
