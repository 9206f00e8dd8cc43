import { Kafka, Partitioners, logLevel, type Admin, type Consumer, type IHeaders, type LogEntry, type Producer } from 'kafkajs';
import { dependencyUnavailable } from '../errors.js';
import type { Logger } from '../logger.js';
import type {
  ConsumerHandlers,
  LogConsumer,
  LogProducer,
  OutgoingMessage,
  TopicLog,
  TopicPartitionOffset,
} from './topic-log.js';

const KAFKAJS_LEVEL: Record<logLevel, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.NOTHING]: 'debug',
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose own logs go to our logger, at levels that match how routine they are. */
export function createKafkaClient(options: { brokers: string[]; clientId: string }, logger: Logger): Kafka {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    // kafkajs logs connection retries at ERROR; they are routine during broker restarts.
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...rest } = log;
        // kafkajs logs every failed protocol response ("Response Metadata(...)") at ERROR and
        // then retries it: routine while a broker starts or a coordinator moves. A failure
        // that survives the retries is thrown to us and logged at ERROR where it is handled.
        // Likewise a transactional producer's CONCURRENT_TRANSACTIONS answer: the coordinator is
        // still writing the previous transaction's markers, and the send is retried.
        const routine =
          level === logLevel.ERROR && (message.startsWith('Response ') || message.includes('another concurrent operation on the same transaction'));
        kafkaLogger[routine ? 'warn' : KAFKAJS_LEVEL[level]](rest, message);
      },
    retry: { initialRetryTime: 300, retries: 8 },
  });
}

export class KafkaLog implements TopicLog {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  private admin: Admin | undefined;

  constructor(
    options: { brokers: string[]; clientId: string },
    private readonly logger: Logger,
  ) {
    this.kafka = createKafkaClient(options, logger);
  }

  private async getAdmin(): Promise<Admin> {
    if (this.admin === undefined) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }

  async ensureTopic(topic: string, partitions: number): Promise<void> {
    const admin = await this.getAdmin();
    // Asking first keeps kafkajs from logging the broker's "already exists" answer as an error.
    if ((await admin.listTopics()).includes(topic)) return;
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  }

  async producer(): Promise<LogProducer> {
    const producer: Producer = this.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
      // An idempotent producer must keep retrying to keep its no-duplicate guarantee.
      retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 30_000 },
    });
    await producer.connect();
    return {
      send: async (topic: string, messages: OutgoingMessage[]) => {
        await producer.send({
          topic,
          messages: messages.map((m) => ({ key: m.key, value: m.value, ...(m.headers === undefined ? {} : { headers: m.headers }) })),
        });
      },
      close: () => producer.disconnect(),
    };
  }

  async consumer(options: { groupId: string; topics: string[]; fromBeginning: boolean }): Promise<LogConsumer> {
    const consumer = this.kafka.consumer({ groupId: options.groupId, allowAutoTopicCreation: false });
    await consumer.connect();
    for (const topic of options.topics) await consumer.subscribe({ topic, fromBeginning: options.fromBeginning });
    return new KafkaConsumer(consumer, options.topics);
  }

  async endOffsets(topic: string): Promise<Map<number, number>> {
    const admin = await this.getAdmin();
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  }

  async ping(): Promise<void> {
    try {
      const admin = await this.getAdmin();
      await admin.describeCluster();
    } catch (err) {
      throw dependencyUnavailable('kafka', err);
    }
  }

  async close(): Promise<void> {
    await this.admin?.disconnect();
    this.admin = undefined;
  }
}

class KafkaConsumer implements LogConsumer {
  private assigned = new Set<string>();

  constructor(
    private readonly consumer: Consumer,
    private readonly topics: string[],
  ) {}

  async start(handlers: ConsumerHandlers): Promise<void> {
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      const now = new Set<string>();
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        for (const p of partitions) now.add(`${topic}\0${p}`);
      }
      const revoked = [...this.assigned].filter((tp) => !now.has(tp));
      this.assigned = now;
      if (revoked.length > 0) handlers.onPartitionsRevoked?.(revoked.map(parseTopicPartition));
    });
    await this.consumer.run({
      autoCommit: false,
      // Folding is synchronous per batch; fetching several partitions at once keeps one slow one from starving the rest.
      partitionsConsumedConcurrently: 3,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (batch.messages.length === 0 || isStale()) return;
        await handlers.eachBatch(
          {
            topic: batch.topic,
            partition: batch.partition,
            highWatermark: Number(batch.highWatermark),
            messages: batch.messages.map((m) => ({
              offset: Number(m.offset),
              timestampMs: Number(m.timestamp),
              key: m.key === null ? null : m.key.toString('utf8'),
              value: m.value,
              headers: textHeaders(m.headers),
            })),
          },
          { heartbeat, isRunning: () => isRunning() && !isStale() },
        );
        const last = batch.messages[batch.messages.length - 1];
        if (last !== undefined) resolveOffset(last.offset);
      },
    });
  }

  pause(): void {
    this.consumer.pause(this.topics.map((topic) => ({ topic })));
  }

  resume(): void {
    this.consumer.resume(this.topics.map((topic) => ({ topic })));
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })));
  }

  async stop(): Promise<void> {
    await this.consumer.stop();
  }

  async close(): Promise<void> {
    await this.consumer.disconnect();
  }
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** Most messages carry no headers: they share one frozen empty object instead of building one each. */
function textHeaders(headers: IHeaders | undefined): Record<string, string> {
  if (headers === undefined) return NO_HEADERS;
  let out: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(headers)) {
    out ??= {};
    out[k] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v ?? '');
  }
  return out ?? NO_HEADERS;
}

function parseTopicPartition(tp: string): { topic: string; partition: number } {
  const [topic = '', partition = '0'] = tp.split('\0');
  return { topic, partition: Number(partition) };
}
