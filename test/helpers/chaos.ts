import { createClient } from '@clickhouse/client';
import { Kafka, logLevel } from 'kafkajs';
import mysql from 'mysql2/promise';
import { KafkaLog } from '../../src/ingest/kafka-log.js';
import { readDeadLetters, type DeadLetter } from './dead-letters.js';
import { seeded, uniqueName, type ProcSample } from './events.js';
import { silentLogger } from './gateway.js';
import { startRollgate, type RollgateProcess } from './rollgate-process.js';
import type { StackEnv } from './stack.js';

/**
 * Shared by the exactly-once chaos test and its larger bench version: a
 * workload on real Kafka, aggregator processes to start, kill and scale, and
 * the two oracles (ClickHouse's and MySQL's own GROUP BY over the raw events).
 */
export interface Workload {
  /** Valid events, in production order (time-ordered with jitter inside the lateness). */
  valid: ProcSample[];
  /** Events behind the watermark of their partition when they arrive: dead-lettered as late. */
  late: ProcSample[];
  /** Malformed messages, each with the reason code expected on its dead letter. */
  bad: Array<{ key: string | null; value: string; reason: string }>;
  windows: number;
  series: number;
  startMs: number;
}

export function buildWorkload(options: { seed: number; series: number; windows: number; perWindow: number; startMs: number }): Workload {
  const random = seeded(options.seed);
  const ids = Array.from({ length: options.series }, (_, i) => ({ ip: `10.${1 + (i % 7)}.${Math.floor(i / 250) % 250}.${(i % 250) + 1}`, pid: 200 + i }));
  const step = Math.floor(300_000 / options.perWindow);
  const end = options.startMs + options.windows * 300_000;
  const valid: ProcSample[] = [];
  const sample = (id: { ip: string; pid: number }, t: number): ProcSample => ({
    ...id,
    cpu_usage_pct: Math.round(random() * 40000) / 100,
    mem_usage_pct: Math.round(random() * 10000) / 100,
    mem_res: Math.floor(random() * 16 * 1024 ** 3),
    timestamp: random() < 0.1 ? new Date(t).toISOString() : t,
  });
  for (let t = options.startMs + 30_000; t < end; t += step) {
    // Up to 30 s out of order: within the 60 s lateness, so every one counts.
    for (const id of ids) valid.push(sample(id, t - Math.floor(random() * 30_000)));
  }
  // Close every window: the watermark (max time - 60 s) passes `end` on every partition.
  for (const id of ids) valid.push(sample(id, end + 61_000));
  const late = ids.slice(0, 10).map((id) => sample(id, options.startMs + 1000));
  const first = valid[0]!;
  const bad = [
    { key: `${first.ip}:${first.pid}`, value: '{"ip":', reason: 'bad_json' },
    { key: `${first.ip}:${first.pid}`, value: JSON.stringify({ ...first, pid: undefined }), reason: 'schema' },
    { key: `${first.ip}:${first.pid}`, value: JSON.stringify({ ...first, cpu_usage_pct: -5 }), reason: 'schema' },
    { key: `${first.ip}:${first.pid}`, value: JSON.stringify(first).replace(/"mem_res":\d+/, '"mem_res":1e400'), reason: 'schema' },
    { key: `${first.ip}:${first.pid}`, value: JSON.stringify({ ...first, timestamp: Date.now() + 30 * 86_400_000 }), reason: 'time_range' },
    { key: `${first.ip}:${first.pid}`, value: JSON.stringify({ ...first, timestamp: 86_400_000 }), reason: 'time_range' },
    { key: `${first.ip}:${first.pid}`, value: JSON.stringify({ ...first, padding: 'x'.repeat(70_000) }), reason: 'too_large' },
    { key: null, value: JSON.stringify(first), reason: 'key' },
  ];
  return { valid, late, bad, windows: options.windows, series: options.series, startMs: options.startMs };
}

export function keyed(s: ProcSample): { key: string; value: string } {
  return { key: `${s.ip}:${s.pid}`, value: JSON.stringify(s) };
}

export function eventMs(s: ProcSample): number {
  return typeof s.timestamp === 'number' ? s.timestamp : Date.parse(s.timestamp);
}

/** A namespace on the shared stack: its own topics, consumer groups, ClickHouse and MySQL databases. */
export class ChaosStack {
  readonly prefix = `${uniqueName('chaos')}.`;
  readonly database = uniqueName('rollgate_chaos');
  readonly topic = `${this.prefix}system_proc`;
  readonly processes: RollgateProcess[] = [];
  readonly ch;
  readonly mysqlUrl: string;
  private mysqlPool: mysql.Pool | undefined;

  constructor(
    readonly stack: StackEnv,
    readonly flushMs = 500,
    readonly idleMs = 2000,
  ) {
    this.ch = createClient({ url: stack.CLICKHOUSE_URL, request_timeout: 120_000 });
    const url = new URL(stack.MYSQL_URL);
    url.pathname = `/${this.database}`;
    this.mysqlUrl = url.toString();
  }

  env(): Record<string, string> {
    return {
      KAFKA_BROKERS: this.stack.KAFKA_BROKERS,
      CLICKHOUSE_URL: this.stack.CLICKHOUSE_URL,
      CLICKHOUSE_DATABASE: this.database,
      MYSQL_URL: this.mysqlUrl,
      REDIS_URL: this.stack.REDIS_URL,
      TOPIC_PREFIX: this.prefix,
      AGGREGATOR_FLUSH_MS: String(this.flushMs),
      AGGREGATOR_IDLE_MS: String(this.idleMs),
      METRICS_PORT: '0',
    };
  }

  async createTopic(partitions: number): Promise<void> {
    const log = new KafkaLog({ brokers: this.stack.KAFKA_BROKERS.split(','), clientId: 'chaos-admin' }, silentLogger);
    await log.ensureTopic(this.topic, partitions);
    await log.close();
  }

  aggregator(rollup: string): RollgateProcess {
    const p = startRollgate(['aggregate', rollup], this.env());
    this.processes.push(p);
    return p;
  }

  async produce(messages: Array<{ key: string | null; value: string }>): Promise<void> {
    const kafka = new Kafka({ brokers: this.stack.KAFKA_BROKERS.split(','), clientId: 'chaos-producer', logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let i = 0; i < messages.length; i += 5000) {
      await producer.send({ topic: this.topic, messages: messages.slice(i, i + 5000) });
    }
    await producer.disconnect();
  }

  /** The oracles' input: the valid events, raw, in ClickHouse and in MySQL. */
  async loadRaw(valid: ProcSample[]): Promise<void> {
    await this.ch.command({ query: `CREATE DATABASE IF NOT EXISTS ${this.database}` });
    await this.ch.command({
      query: `CREATE TABLE ${this.database}.raw (ts DateTime, ip String, pid UInt32, cpu Float64, mempct Float64, mem UInt64) ENGINE = MergeTree ORDER BY ts`,
    });
    for (let i = 0; i < valid.length; i += 50_000) {
      await this.ch.insert({
        table: `${this.database}.raw`,
        format: 'JSONEachRow',
        values: valid.slice(i, i + 50_000).map((s) => ({
          ts: Math.floor(eventMs(s) / 1000),
          ip: s.ip,
          pid: s.pid,
          cpu: s.cpu_usage_pct,
          mempct: s.mem_usage_pct,
          mem: s.mem_res,
        })),
      });
    }
    const pool = await this.mysql();
    await pool.query(`CREATE DATABASE IF NOT EXISTS \`${this.database}\``);
    await pool.query(
      `CREATE TABLE \`${this.database}\`.raw (ts_ms BIGINT NOT NULL, ip VARCHAR(255) NOT NULL, pid INT UNSIGNED NOT NULL, cpu DOUBLE NOT NULL, mempct DOUBLE NOT NULL, mem BIGINT UNSIGNED NOT NULL)`,
    );
    for (let i = 0; i < valid.length; i += 2000) {
      const chunk = valid.slice(i, i + 2000);
      await pool.query(`INSERT INTO \`${this.database}\`.raw VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}`, chunk.flatMap((s) => [eventMs(s), s.ip, s.pid, s.cpu_usage_pct, s.mem_usage_pct, s.mem_res]));
    }
  }

  async mysql(): Promise<mysql.Pool> {
    this.mysqlPool ??= mysql.createPool({ uri: this.stack.MYSQL_URL, connectionLimit: 2, supportBigNumbers: true, bigNumberStrings: true });
    return this.mysqlPool;
  }

  async chRows<T>(query: string): Promise<T[]> {
    const result = await this.ch.query({ query, format: 'JSONEachRow' });
    return result.json<T>();
  }

  async mysqlRows(query: string): Promise<Array<Record<string, unknown>>> {
    const [rows] = await (await this.mysql()).query(query);
    return rows as Array<Record<string, unknown>>;
  }

  /** ClickHouse's GROUP BY over the raw events, and the cpu-mem-5min rollup, in one comparable shape. */
  async cpuMem(): Promise<{ oracle: string[]; rollup: string[]; finalRows: number; samples: number }> {
    const oracle = await this.chRows<Record<string, unknown>>(
      `SELECT toUInt32(toStartOfFiveMinute(ts)) AS ws, ip, pid, max(mem) AS mem, max(cpu) AS cpu, max(mempct) AS mempct, count() AS n
       FROM ${this.database}.raw GROUP BY ws, ip, pid ORDER BY ws, ip, pid`,
    );
    const rollup = await this.chRows<Record<string, unknown>>(
      `SELECT toUInt32(window_start) AS ws, ip, pid, mem, cpu_usage_pct AS cpu, mem_usage_pct AS mempct, samples AS n, final
       FROM ${this.database}.cpu_mem_5min FINAL ORDER BY ws, ip, pid`,
    );
    const line = (r: Record<string, unknown>) => [r['ws'], r['ip'], r['pid'], r['mem'], r['cpu'], r['mempct'], r['n']].map(String).join(' ');
    return {
      oracle: oracle.map(line),
      rollup: rollup.map(line),
      finalRows: rollup.filter((r) => Number(r['final']) === 1).length,
      samples: rollup.reduce((n, r) => n + Number(r['n']), 0),
    };
  }

  /** MySQL's GROUP BY over the raw events, and the proc-totals-5min rollup; sums of doubles compared to 1e-9. */
  async procTotals(): Promise<{ oracle: string[]; rollup: string[]; finalRows: number; samples: number }> {
    const oracle = await this.mysqlRows(
      `SELECT FLOOR(ts_ms / 300000) * 300 AS ws, ip, pid, COUNT(*) AS n, SUM(cpu) AS cpu_sum, SUM(mem) AS mem_sum, MIN(cpu) AS cpu_min, AVG(mempct) AS mempct_avg
       FROM \`${this.database}\`.raw GROUP BY ws, ip, pid ORDER BY ws, ip, pid`,
    );
    const rollup = await this.mysqlRows(
      `SELECT TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', window_start) AS ws, ip, pid, samples AS n, cpu_pct_sum AS cpu_sum,
              mem_res_sum AS mem_sum, cpu_pct_min AS cpu_min, mem_usage_pct_avg AS mempct_avg, final
       FROM \`${this.database}\`.proc_totals_5min ORDER BY ws, ip, pid`,
    );
    const approx = (v: unknown) => Number(v).toPrecision(10);
    const line = (r: Record<string, unknown>) =>
      [r['ws'], r['ip'], r['pid'], r['n'], approx(r['cpu_sum']), r['mem_sum'], r['cpu_min'], approx(r['mempct_avg'])].map(String).join(' ');
    return {
      oracle: oracle.map(line),
      rollup: rollup.map(line),
      finalRows: rollup.filter((r) => Number(r['final']) === 1).length,
      samples: rollup.reduce((n, r) => n + Number(r['n']), 0),
    };
  }

  /** Every dead letter on the topic's DLQ: its value and reason code. */
  deadLetters(expected: number, timeoutMs = 30_000): Promise<DeadLetter[]> {
    return readDeadLetters(this.stack.KAFKA_BROKERS, `${this.topic}.dlq`, `${this.prefix}dlq-reader`, expected, timeoutMs);
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop('SIGKILL')));
    await this.ch.command({ query: `DROP DATABASE IF EXISTS ${this.database}` }).catch(() => undefined);
    await this.ch.close();
    if (this.mysqlPool !== undefined) {
      await this.mysqlPool.query(`DROP DATABASE IF EXISTS \`${this.database}\``).catch(() => undefined);
      await this.mysqlPool.end();
    }
  }
}
