import { performance } from 'node:perf_hooks';
import { Kafka, logLevel, type ConsumerConfig } from 'kafkajs';

/** Consumer settings a reader may tune; partitionsConsumedConcurrently is rollgate's 3 unless given. */
export type ReaderTuning = Partial<Pick<ConsumerConfig, 'maxBytesPerPartition' | 'maxBytes' | 'minBytes' | 'maxWaitTimeInMs'>> & {
  partitionsConsumedConcurrently?: number;
};

/** Rejects with `what` when `work` has not settled within `ms`. */
export async function withTimeout<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads `topic` from the beginning with a new group until every partition's high watermark; returns messages and seconds. */
export async function readWholeTopic(
  brokers: string[],
  topic: string,
  groupId: string,
  each?: (m: { value: string; headers: Record<string, string> }) => void,
  tuning: ReaderTuning = {},
): Promise<{ messages: number; seconds: number }> {
  const { partitionsConsumedConcurrently = 3, ...fetchTuning } = tuning;
  const kafka = new Kafka({ brokers, clientId: 'chaos-bench-reader', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(offsets.filter((o) => Number(o.high) > Number(o.low)).map((o) => [o.partition, Number(o.high)]));
  const expected = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  const consumer = kafka.consumer({ groupId, ...fetchTuning });
  let messages = 0;
  const readStart = performance.now();
  let finished = 0;
  let done!: () => void;
  const allRead = new Promise<void>((r) => (done = r));
  if (remaining.size === 0) done();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently,
    eachBatch: async ({ batch }) => {
      messages += batch.messages.length;
      if (each !== undefined) {
        for (const m of batch.messages) {
          each({
            value: m.value?.toString() ?? '',
            headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, v?.toString() ?? ''])),
          });
        }
      }
      const high = remaining.get(batch.partition);
      if (high !== undefined && Number(batch.lastOffset()) + 1 >= high) {
        remaining.delete(batch.partition);
        if (remaining.size === 0) {
          finished = performance.now();
          done();
        }
      }
    },
  });
  try {
    await withTimeout(`reading ${topic}`, 300_000, allRead);
  } finally {
    await consumer.disconnect();
  }
  if (messages < expected) throw new Error(`read ${messages} of ${expected} messages from ${topic}`);
  return { messages, seconds: ((finished || performance.now()) - readStart) / 1000 };
}
