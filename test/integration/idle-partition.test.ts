import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { ChaosStack, keyed } from '../helpers/chaos.js';
import type { ProcSample } from '../helpers/events.js';
import { stackEnv } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A partition that goes quiet must not hold its windows open forever: after
 * AGGREGATOR_IDLE_MS it follows the watermark of the partitions still active.
 */
const chaos = new ChaosStack(stackEnv());
afterAll(() => chaos.cleanup(), 60_000);

const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000 + 10 * 3600_000;
const sample = (ip: string, pid: number, t: number): ProcSample => ({ ip, pid, cpu_usage_pct: 1, mem_usage_pct: 1, mem_res: 1, timestamp: t });

describe('idle partitions', () => {
  it('close their windows once the other partitions move past them', async () => {
    await chaos.createTopic(3);
    const kafka = new Kafka({ brokers: chaos.stack.KAFKA_BROKERS.split(','), clientId: 'idle-test', logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    // Partition 2 hears from its series once, in the first window, and never again.
    await producer.send({ topic: chaos.topic, messages: [{ ...keyed(sample('10.9.0.2', 2, T0 + 1000)), partition: 2 }] });
    // Partitions 0 and 1 go on for 20 minutes of event time.
    const busy: Array<{ key: string; value: string; partition: number }> = [];
    for (let t = T0; t <= T0 + 20 * 60_000; t += 30_000) {
      busy.push({ ...keyed(sample('10.9.0.0', 0, t)), partition: 0 }, { ...keyed(sample('10.9.0.1', 1, t)), partition: 1 });
    }
    await producer.send({ topic: chaos.topic, messages: busy });
    await producer.disconnect();

    const aggregator = chaos.aggregator('cpu-mem-5min');
    const quiet = await waitFor(
      "the idle partition's window to turn final",
      async () => {
        const rows = await chaos.chRows<{ final: number; samples: string }>(
          `SELECT final, samples FROM ${chaos.database}.cpu_mem_5min FINAL WHERE ip = '10.9.0.2'`,
        );
        return rows.length === 1 && Number(rows[0]!.final) === 1 ? rows[0] : undefined;
      },
      60_000,
      500,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\naggregator output:\n${aggregator.output()}`);
    });
    expect(Number(quiet.samples)).toBe(1);
    // The stream's own newest window stays open: no partition has event time past it.
    const newest = await chaos.chRows<{ final: number }>(
      `SELECT final FROM ${chaos.database}.cpu_mem_5min FINAL WHERE ip = '10.9.0.0' AND window_start = toDateTime(${(T0 + 20 * 60_000) / 1000})`,
    );
    expect(newest.map((r) => Number(r.final))).toEqual([0]);
  });
});
