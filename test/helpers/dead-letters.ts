import { Kafka, logLevel } from 'kafkajs';
import { DLQ_HEADERS } from '../../src/aggregation/runner.js';

export interface DeadLetter {
  value: string;
  code: string;
  reason: string;
}

/** Reads a dead-letter topic from the beginning until `expected` letters arrived or `timeoutMs` passed. */
export async function readDeadLetters(brokers: string, topic: string, groupId: string, expected: number, timeoutMs = 30_000): Promise<DeadLetter[]> {
  const kafka = new Kafka({ brokers: brokers.split(','), clientId: 'dlq-reader', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: DeadLetter[] = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.push({
        value: message.value?.toString() ?? '',
        code: message.headers?.[DLQ_HEADERS.code]?.toString() ?? '',
        reason: message.headers?.[DLQ_HEADERS.reason]?.toString() ?? '',
      });
    },
  });
  const deadline = Date.now() + timeoutMs;
  while (seen.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  await consumer.disconnect();
  return seen;
}
