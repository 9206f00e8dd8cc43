import { randomUUID } from 'node:crypto';
import { Partitioners, type Admin, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { parseOffset, serializeOffset, type CdcOffset } from '../../core/cdc/offset.js';
import { dependencyUnavailable, RollgateError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { createKafkaClient } from '../kafka-log.js';
import type { ChangeLog, ChangeMessage } from './change-log.js';

/** The compacted topic holding every CDC's offset, keyed by its name (like Kafka Connect's connect-offsets). */
export const CDC_OFFSETS_TOPIC = 'rollgate-cdc-offsets';

const OFFSET_READ_TIMEOUT_MS = 60_000;

/**
 * Change events and the CDC offset in Kafka, written in one Kafka
 * transaction per batch: a read_committed consumer (kafkajs' default, and
 * Kafka's for every Streams/Connect app) sees a batch's events exactly when
 * the offset that covers them is stored. A crash mid-batch leaves an open
 * transaction that the next writer with the same transactional id aborts
 * when it starts, so nothing half-written is ever read and nothing written
 * is re-sent. The transactional id is per CDC name: a second process with
 * the same name fences the first off.
 */
export class KafkaChangeLog implements ChangeLog {
  private readonly kafka: Kafka;
  private admin: Admin | undefined;
  private producer: Producer | undefined;
  readonly offsetsTopic: string;
  private readonly transactionalId: string;
  private readonly name: string;

  constructor(
    options: { brokers: string[]; clientId: string; topicPrefix: string; name: string },
    private readonly logger: Logger,
  ) {
    this.kafka = createKafkaClient({ brokers: options.brokers, clientId: options.clientId }, logger);
    this.offsetsTopic = options.topicPrefix + CDC_OFFSETS_TOPIC;
    this.transactionalId = `${options.topicPrefix}rollgate-cdc-${options.name}`;
    this.name = options.name;
  }

  private async getAdmin(): Promise<Admin> {
    if (this.admin === undefined) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }

  async ensureTopics(topics: readonly string[], partitions: number): Promise<void> {
    const admin = await this.getAdmin();
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    const wanted = [
      ...missing.map((topic) => ({ topic, numPartitions: partitions })),
      ...(existing.has(this.offsetsTopic)
        ? []
        : [{ topic: this.offsetsTopic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }]),
    ];
    if (wanted.length > 0) await admin.createTopics({ topics: wanted, waitForLeaders: true });
  }

  async open(): Promise<CdcOffset | undefined> {
    await this.getProducer();
    return this.readOffset();
  }

  async write(messages: readonly ChangeMessage[], offset: CdcOffset | undefined): Promise<void> {
    const producer = await this.getProducer();
    const byTopic = new Map<string, Message[]>();
    for (const m of messages) {
      let list = byTopic.get(m.topic);
      if (list === undefined) byTopic.set(m.topic, (list = []));
      list.push({ key: m.key, value: m.value, headers: m.headers });
    }
    if (offset !== undefined) byTopic.set(this.offsetsTopic, [{ key: this.name, value: serializeOffset(offset) }]);
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, list]) => ({ topic, messages: list }));
    if (topicMessages.length === 0) return;
    const txn = await producer.transaction();
    try {
      await txn.sendBatch({ topicMessages, acks: -1 });
      await txn.commit();
    } catch (err) {
      await txn.abort().catch(() => undefined);
      throw dependencyUnavailable('kafka', err);
    }
  }

  async recover(): Promise<CdcOffset | undefined> {
    const old = this.producer;
    this.producer = undefined;
    await old?.disconnect().catch(() => undefined);
    await this.getProducer();
    return this.readOffset();
  }

  /**
   * A connected transactional producer. Its first transaction makes the
   * broker abort whatever an earlier producer with this transactional id
   * left open (a crashed CDC's last batch) and fence that producer off.
   */
  private async getProducer(): Promise<Producer> {
    if (this.producer !== undefined) return this.producer;
    const producer = this.kafka.producer({
      transactionalId: this.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 60_000,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Bounded, so an outage surfaces to the runner (which reconciles and retries the whole
      // transaction; kafkajs warns that limited retries weaken idempotence, which transactions
      // restore). Short first backoff: CONCURRENT_TRANSACTIONS after every commit clears in ms.
      retry: { retries: 5, initialRetryTime: 50, maxRetryTime: 10_000 },
    });
    try {
      await producer.connect();
      const init = await producer.transaction();
      await init.abort();
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      throw dependencyUnavailable('kafka', err);
    }
    this.producer = producer;
    return producer;
  }

  /**
   * The last offset record stored under this CDC's name, read_committed.
   * Reads the (compacted, single-partition) topic to its end: the end is
   * taken after our producer fenced its predecessor, so no transaction of
   * ours is still open and the end is stable.
   */
  private async readOffset(): Promise<CdcOffset | undefined> {
    const admin = await this.getAdmin();
    const partitions = await admin.fetchTopicOffsets(this.offsetsTopic);
    const high = Number(partitions.find((p) => p.partition === 0)?.high ?? '0');
    if (high === 0) return undefined;
    const consumer = this.kafka.consumer({ groupId: `${this.transactionalId}.offset-reader.${randomUUID()}`, readUncommitted: false, allowAutoTopicCreation: false });
    let latest: string | null = null;
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.offsetsTopic, fromBeginning: true });
      // END_BATCH_PROCESS also fires for batches of only commit/abort markers, so the end is seen even when a marker is last.
      const reachedEnd = new Promise<void>((resolve, reject) => {
        consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
          if (Number(event.payload.lastOffset) >= high - 1) resolve();
        });
        timer = setTimeout(() => reject(new RollgateError('DEPENDENCY_UNAVAILABLE', `reading ${this.offsetsTopic} did not reach its end within ${OFFSET_READ_TIMEOUT_MS} ms`, { retriable: true })), OFFSET_READ_TIMEOUT_MS);
      });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ message }) => {
          // A tombstone (null value) under our name resets the CDC: the next start takes a new snapshot.
          if (message.key?.toString('utf8') === this.name) latest = message.value === null ? null : message.value.toString('utf8');
        },
      });
      await reachedEnd;
    } catch (err) {
      throw err instanceof RollgateError ? err : dependencyUnavailable('kafka', err);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      await consumer.disconnect().catch(() => undefined);
    }
    if (latest === null) return undefined;
    try {
      return parseOffset(latest);
    } catch (err) {
      throw new RollgateError('INVALID_CONFIG', `the offset stored in ${this.offsetsTopic} under ${this.name} is not a CDC offset`, { cause: err });
    }
  }

  async ping(): Promise<void> {
    try {
      await (await this.getAdmin()).describeCluster();
    } catch (err) {
      throw dependencyUnavailable('kafka', err);
    }
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch((err: unknown) => this.logger.warn({ err }, 'closing the CDC producer failed'));
    this.producer = undefined;
    await this.admin?.disconnect().catch(() => undefined);
    this.admin = undefined;
  }
}
