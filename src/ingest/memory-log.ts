import { EventEmitter } from 'node:events';
import type {
  ConsumerHandlers,
  LogConsumer,
  LogProducer,
  OutgoingMessage,
  TopicLog,
  TopicPartitionOffset,
} from './topic-log.js';

interface StoredMessage {
  timestampMs: number;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
}

/**
 * The embedded stand-in for Kafka: one partition per topic, offsets from 0,
 * committed offsets per consumer group. Enough for `npm start` on a laptop;
 * it keeps everything in memory and forgets it on exit.
 */
export class MemoryLog implements TopicLog {
  readonly kind = 'memory' as const;
  private readonly topics = new Map<string, StoredMessage[]>();
  private readonly committed = new Map<string, number>();
  private readonly appended = new EventEmitter();

  /** `now` stamps appended messages (Kafka's CreateTime); tests inject a clock so fixtures keep their own dates. */
  constructor(private readonly now: () => number = Date.now) {
    this.appended.setMaxListeners(0);
  }

  async ensureTopic(topic: string): Promise<void> {
    if (!this.topics.has(topic)) this.topics.set(topic, []);
  }

  async producer(): Promise<LogProducer> {
    return {
      send: async (topic: string, messages: OutgoingMessage[]) => {
        await this.ensureTopic(topic);
        const log = this.topics.get(topic) ?? [];
        const now = this.now();
        for (const m of messages) log.push({ timestampMs: now, key: m.key, value: Buffer.from(m.value), headers: m.headers ?? {} });
        this.appended.emit(topic);
      },
      close: async () => {},
    };
  }

  async consumer(options: { groupId: string; topics: string[]; fromBeginning: boolean }): Promise<LogConsumer> {
    for (const t of options.topics) await this.ensureTopic(t);
    return new MemoryConsumer(this, options.groupId, options.topics, options.fromBeginning);
  }

  async endOffsets(topic: string): Promise<Map<number, number>> {
    return new Map([[0, this.endOffset(topic)]]);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.appended.emit('close');
  }

  /** @internal */
  read(topic: string, from: number, max: number): StoredMessage[] {
    return (this.topics.get(topic) ?? []).slice(from, from + max);
  }

  /** @internal */
  endOffset(topic: string): number {
    return this.topics.get(topic)?.length ?? 0;
  }

  /** @internal */
  committedOffset(groupId: string, topic: string): number | undefined {
    return this.committed.get(`${groupId}\0${topic}`);
  }

  /** @internal */
  commit(groupId: string, topic: string, offset: number): void {
    this.committed.set(`${groupId}\0${topic}`, offset);
  }

  /** @internal Resolves on the next append to `topic` or after `ms`. */
  waitForAppend(topic: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.appended.off(topic, done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.appended.once(topic, done);
    });
  }
}

const MAX_BATCH = 2000;
const RETRY_PAUSE_MS = 1000;

class MemoryConsumer implements LogConsumer {
  private running = false;
  private paused = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly log: MemoryLog,
    private readonly groupId: string,
    private readonly topics: string[],
    private readonly fromBeginning: boolean,
  ) {}

  async start(handlers: ConsumerHandlers): Promise<void> {
    this.running = true;
    const positions = new Map<string, number>();
    for (const t of this.topics) {
      positions.set(t, this.log.committedOffset(this.groupId, t) ?? (this.fromBeginning ? 0 : this.log.endOffset(t)));
    }
    const ctx = { heartbeat: async () => {}, isRunning: () => this.running };
    this.loop = (async () => {
      while (this.running) {
        let idle = true;
        for (const topic of this.paused ? [] : this.topics) {
          const from = positions.get(topic) ?? 0;
          const stored = this.log.read(topic, from, MAX_BATCH);
          if (stored.length === 0) continue;
          idle = false;
          const messages = stored.map((m, i) => ({ offset: from + i, timestampMs: m.timestampMs, key: m.key, value: m.value, headers: m.headers }));
          try {
            await handlers.eachBatch({ topic, partition: 0, messages, highWatermark: this.log.endOffset(topic) }, ctx);
            positions.set(topic, from + stored.length);
          } catch {
            // Like Kafka consumers: the batch is not acknowledged and comes again after a pause.
            // The handler reports its own failures.
            await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
          }
        }
        if (idle) await Promise.race(this.topics.map((t) => this.log.waitForAppend(t, 250)));
      }
    })();
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    for (const o of offsets) this.log.commit(this.groupId, o.topic, o.offset);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  async close(): Promise<void> {}
}
