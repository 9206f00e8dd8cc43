import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import type { ChangeEnvelope } from '../../src/core/cdc/change-event.js';
import { compareBinlogPositions, type BinlogPosition } from '../../src/core/cdc/offset.js';
import { waitFor } from './wait.js';

export interface ReadChange {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  envelope: ChangeEnvelope;
  headers: Record<string, string>;
}

/**
 * Follows change topics from the beginning, read_committed (kafkajs'
 * default, like any Kafka Streams/Connect consumer), and keeps every event.
 */
export class ChangeTail {
  private readonly seen: ReadChange[] = [];

  private constructor(private readonly consumer: Consumer) {}

  static async start(brokers: string, topics: readonly string[]): Promise<ChangeTail> {
    const kafka = new Kafka({ brokers: brokers.split(','), clientId: 'cdc-test-reader', logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `cdc-test-${randomUUID()}`, readUncommitted: false });
    await consumer.connect();
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    const tail = new ChangeTail(consumer);
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        tail.seen.push({
          topic,
          partition,
          offset: Number(message.offset),
          key: message.key?.toString('utf8') ?? null,
          envelope: JSON.parse(message.value?.toString('utf8') ?? 'null') as ChangeEnvelope,
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v ?? '')])),
        });
      },
    });
    return tail;
  }

  events(topic?: string): ReadChange[] {
    const list = topic === undefined ? this.seen : this.seen.filter((e) => e.topic === topic);
    return [...list].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  }

  async waitForCount(topic: string, count: number, timeoutMs = 60_000): Promise<ReadChange[]> {
    return waitFor(
      `${count} events on ${topic} (have ${this.events(topic).length})`,
      async () => {
        const events = this.events(topic);
        return events.length >= count ? events : undefined;
      },
      timeoutMs,
    );
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}

export const positionOf = (e: ReadChange): BinlogPosition => ({ file: e.envelope.source.file, pos: e.envelope.source.pos, row: e.envelope.source.row });

/** Events whose (key, position, op) repeats an earlier one: what a consumer would drop as replays. */
export function replays(events: readonly ReadChange[]): ReadChange[] {
  const seen = new Set<string>();
  const dups: ReadChange[] = [];
  for (const e of events) {
    const id = `${e.topic}|${e.key}|${e.envelope.source.file}|${e.envelope.source.pos}|${e.envelope.source.row}|${e.envelope.op}|${e.envelope.source.snapshot === 'false' ? '' : 'snapshot'}`;
    if (seen.has(id)) dups.push(e);
    seen.add(id);
  }
  return dups;
}

/** Streamed events of one partition must come in binlog order. */
export function positionsAscending(events: readonly ReadChange[]): boolean {
  const streamed = events.filter((e) => e.envelope.source.snapshot === 'false');
  return streamed.every((e, i) => i === 0 || compareBinlogPositions(positionOf(streamed[i - 1]!), positionOf(e)) <= 0);
}
