import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../../aggregators/cpu-mem-5min.js';
import { AggregatorRunner, DLQ_HEADERS, deadLetterTopic } from '../../../src/aggregation/runner.js';
import { parseEventTime } from '../../../src/core/event-time.js';
import { MemoryLog } from '../../../src/ingest/memory-log.js';
import { Metrics } from '../../../src/metrics.js';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';
import type { RollupStore } from '../../../src/store/rollup-store.js';
import type { RollupSpec } from '../../../src/core/rollup-spec.js';
import { procSamples, type ProcSample } from '../../helpers/events.js';
import { clockFrom } from '../../helpers/clock.js';
import { silentLogger } from '../../helpers/gateway.js';
import { waitFor } from '../../helpers/wait.js';

const T0 = Date.UTC(2026, 10, 22, 8, 0, 0);
/** The fixtures' "now": just after their last sample, so retention and message timestamps judge them by their own day. */
const FIXTURE_NOW = T0 + 30 * 60_000;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(store?: RollupStore, spec: RollupSpec = cpuMem5min, flushMs = 100) {
  const now = clockFrom(FIXTURE_NOW);
  const log = new MemoryLog(now);
  const duck = await DuckDbStore.open(':memory:');
  cleanups.push(() => duck.close());
  const target = store ?? duck;
  const producer = await log.producer();
  const metrics = new Metrics({ defaultMetrics: false });
  const runner = () =>
    new AggregatorRunner({ spec, log, store: target, logger: silentLogger, metrics, flushMs, idleMs: 60_000, topicPrefix: '', now });
  const send = (samples: Array<ProcSample | string>) =>
    producer.send('system_proc', samples.map((s) => (typeof s === 'string' ? { key: null, value: s } : { key: `${s.ip}:${s.pid}`, value: JSON.stringify(s) })));
  return { log, duck, runner, send, metrics };
}

/** DuckDB's own GROUP BY over the raw samples: the oracle. */
async function oracle(samples: ProcSample[]) {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run('CREATE TABLE raw (ts TIMESTAMP, ip VARCHAR, pid UINTEGER, cpu DOUBLE, mempct DOUBLE, mem UBIGINT)');
  const appender = await c.createAppender('raw');
  for (const s of samples) {
    const ms = parseEventTime(s.timestamp)!;
    appender.appendTimestamp({ micros: BigInt(ms) * 1000n } as never);
    appender.appendVarchar(s.ip);
    appender.appendUInteger(s.pid);
    appender.appendDouble(s.cpu_usage_pct);
    appender.appendDouble(s.mem_usage_pct);
    appender.appendUBigInt(BigInt(s.mem_res));
    appender.endRow();
  }
  appender.closeSync();
  const reader = await c.runAndReadAll(`
    SELECT epoch_ms(time_bucket(INTERVAL 5 MINUTE, ts)) AS ws, ip, pid, max(mem) AS mem, max(cpu) AS cpu, max(mempct) AS mempct, count(*) AS n
    FROM raw GROUP BY ALL ORDER BY ws DESC, ip, pid`);
  const rows = reader.getRowObjects().map((r) => ({
    windowStart: Number(r['ws']),
    ip: String(r['ip']),
    pid: Number(r['pid']),
    mem: Number(r['mem']),
    cpu: Number(r['cpu']),
    mempct: Number(r['mempct']),
    samples: Number(r['n']),
  }));
  c.closeSync();
  db.closeSync();
  return rows;
}

async function stored(store: DuckDbStore) {
  const page = await store.query(cpuMem5min, { equals: {}, limit: 100_000, offset: 0 });
  return page.rows.map((r) => ({
    windowStart: r.windowStart,
    ip: String(r.group['ip']),
    pid: Number(r.group['pid']),
    mem: r.measures['mem'],
    cpu: r.measures['cpu_usage_pct'],
    mempct: r.measures['mem_usage_pct'],
    samples: r.measures['samples'],
    final: r.final,
  }));
}

const lastWindow = T0 + 4 * 300_000;

async function counter(metrics: Metrics, name: string): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  return (metric?.values ?? []).reduce((n, v) => n + v.value, 0);
}

/** The real DuckDB store with its writes replaced: fault injection and counting around real writes. */
function around(duck: DuckDbStore, transactional: boolean, write: RollupStore['write']): RollupStore {
  return {
    kind: 'duckdb',
    transactional,
    ensureTable: (spec) => duck.ensureTable(spec),
    write,
    loadCheckpoint: (g, t, p) => duck.loadCheckpoint(g, t, p),
    dropBefore: (spec, before) => duck.dropBefore(spec, before),
    query: (spec, q) => duck.query(spec, q),
    ping: () => duck.ping(),
    close: async () => {},
  };
}

describe('AggregatorRunner on the embedded log and DuckDB', () => {
  it('writes rollups equal to the database GROUP BY, final for closed windows', async () => {
    const { duck, runner, send } = await setup();
    const samples = procSamples({ seed: 1, series: 5, windows: 4, startMs: T0, stepMs: 20_000 });
    await send(samples);
    const r = runner();
    await r.start();
    cleanups.push(() => r.stop());
    const expected = await oracle(samples);
    const rows = await waitFor('all windows', async () => {
      const s = await stored(duck);
      return s.filter((x) => x.final).length === 20 && s.length === expected.length ? s : undefined;
    });
    expect(rows.map(({ final: _f, ...rest }) => rest)).toEqual(expected);
    for (const row of rows) expect(row.final).toBe(row.windowStart < lastWindow);
  });

  it('dead-letters invalid and late events with the reason, and still counts the rest exactly', async () => {
    const { log, duck, runner, send } = await setup();
    const samples = procSamples({ seed: 2, series: 3, windows: 3, startMs: T0, stepMs: 30_000 });
    const late = { ...samples[0]!, timestamp: T0 + 1000 };
    // The last one is valid but unkeyed: on Kafka it could land on any partition and split its series.
    await send([...samples, JSON.stringify({ ...samples[1]!, pid: 'seven' }), 'not json', late, JSON.stringify(samples[2])]);
    const r = runner();
    await r.start();
    cleanups.push(() => r.stop());
    const expected = await oracle(samples);
    await waitFor('rows', async () => ((await stored(duck)).filter((x) => x.final).length === 9 ? true : undefined));
    expect((await stored(duck)).map(({ final: _f, ...rest }) => rest)).toEqual(expected);

    const dead = log.read(deadLetterTopic('system_proc'), 0, 10);
    expect(dead.map((d) => d.headers[DLQ_HEADERS.code])).toEqual(['INVALID_EVENT', 'INVALID_EVENT', 'LATE_EVENT', 'INVALID_EVENT']);
    expect(dead.map((d) => d.headers[DLQ_HEADERS.reason])).toEqual([
      'pid: must be integer',
      'value is not valid JSON',
      expect.stringContaining('behind the watermark'),
      `key: must be "${samples[2]!.ip}:${samples[2]!.pid}" (the payload's ip:pid), got null`,
    ]);
    expect(dead[1]!.value.toString()).toBe('not json');
  });

  it("leaves out what the spec's filter rejects, and counts it", async () => {
    const onlyBusy: RollupSpec = { ...cpuMem5min, filter: (v) => Number(v['cpu_usage_pct']) >= 200 };
    const { duck, runner, send, metrics } = await setup(undefined, onlyBusy);
    const samples = procSamples({ seed: 5, series: 3, windows: 2, startMs: T0, stepMs: 20_000 });
    await send(samples);
    const r = runner();
    await r.start();
    cleanups.push(() => r.stop());
    const busy = samples.filter((s) => s.cpu_usage_pct >= 200);
    const expected = await oracle(busy);
    const rows = await waitFor('filtered rows', async () => {
      const s = await stored(duck);
      return s.reduce((n, x) => n + (x.samples ?? 0), 0) === busy.length ? s : undefined;
    });
    expect(rows.map(({ final: _f, ...rest }) => rest)).toEqual(expected);
    expect(await counter(metrics, 'rollgate_events_filtered_total')).toBe(samples.length - busy.length);
  });

  it('resumes after a stop from its checkpoint without double counting', async () => {
    const { duck, runner, send, metrics } = await setup();
    const samples = procSamples({ seed: 3, series: 4, windows: 4, startMs: T0, stepMs: 15_000 });
    const half = Math.floor(samples.length / 2);
    await send(samples.slice(0, half));
    const first = runner();
    await first.start();
    await waitFor('first half consumed', async () => ((await counter(metrics, 'rollgate_events_in_total')) === half ? true : undefined));
    await first.stop();
    await send(samples.slice(half));
    const second = runner();
    await second.start();
    cleanups.push(() => second.stop());
    const expected = await oracle(samples);
    const rows = await waitFor('all windows', async () => {
      const s = await stored(duck);
      return s.filter((x) => x.final).length === 16 ? s : undefined;
    });
    expect(rows.map(({ final: _f, ...rest }) => rest)).toEqual(expected);
  });

  it('with a store that writes rows apart from checkpoints (as ClickHouse) and fails every third write, resumes from base + delta chains without loss or double counting', async () => {
    const duck = await DuckDbStore.open(':memory:');
    cleanups.push(() => duck.close());
    let writes = 0;
    const flaky = around(duck, false, async (spec, rows, segments) => {
      writes += 1;
      if (writes % 3 === 0) throw new Error('store down');
      return duck.write(spec, rows, segments);
    });
    const { runner, send, metrics } = await setup(flaky);
    const samples = procSamples({ seed: 6, series: 20, windows: 2, startMs: T0, stepMs: 60_000 });
    const consumed = (n: number) => waitFor(`${n} consumed`, async () => ((await counter(metrics, 'rollgate_events_in_total')) >= n ? true : undefined), 20_000, 10);
    const checkpointBytes = async (kind?: string) =>
      ((await metrics.registry.getSingleMetric('rollgate_checkpoint_segment_bytes')?.get())?.values ?? [])
        .filter((v) => (v as { metricName?: string }).metricName === 'rollgate_checkpoint_segment_bytes_sum' && (kind === undefined || v.labels['kind'] === kind))
        .reduce((n, v) => n + v.value, 0);
    // A few series at a time, each part flushed before the next: the segments after the first base are deltas.
    const inParts = async (from: number, to: number) => {
      for (let i = from; i < to; i += 3) {
        await send(samples.slice(i, Math.min(i + 3, to)));
        await consumed(Math.min(i + 3, to));
        const before = await checkpointBytes();
        await waitFor('a checkpoint', async () => ((await checkpointBytes()) > before || r.status !== 'running' ? true : undefined), 20_000, 10);
      }
    };
    let r = runner();
    await send(samples.slice(0, 20));
    await r.start();
    await consumed(20);
    await inParts(20, 60);
    await r.stop();
    r = runner();
    await r.start();
    cleanups.push(() => r.stop());
    await inParts(60, 90);
    await send(samples.slice(90));
    expect(await checkpointBytes('delta')).toBeGreaterThan(0);
    const expected = await oracle(samples);
    const rows = await waitFor('all windows', async () => {
      const s = await stored(duck);
      return s.filter((x) => x.final).length === 40 && s.length === expected.length ? s : undefined;
    }, 30_000);
    expect(rows.map(({ final: _f, ...rest }) => rest)).toEqual(expected);
  }, 60_000);

  it('writes a flush with more rows than a function call takes arguments (one partition of 150k series)', async () => {
    const duck = await DuckDbStore.open(':memory:');
    cleanups.push(() => duck.close());
    let rowsWritten = 0;
    // Counts what the runner hands over instead of storing it: the subject is the flush, not the store.
    const counting = around(duck, true, async (spec, rows, segments) => {
      rowsWritten += rows.length;
      await duck.write(spec, [], segments);
    });
    // A flush interval long enough that every event is folded before the first drain.
    const { runner, send } = await setup(counting, cpuMem5min, 8000);
    const series = 150_000;
    await send(Array.from({ length: series }, (_, i) => ({ ip: `10.0.${i >> 8}.${i & 255}`, pid: 1, cpu_usage_pct: 1, mem_usage_pct: 1, mem_res: 1, timestamp: T0 + (i % 1000) })));
    const r = runner();
    await r.start();
    cleanups.push(() => r.stop());
    await waitFor('every row', async () => (rowsWritten >= series ? true : undefined), 60_000, 50);
    expect(rowsWritten).toBe(series);
  }, 90_000);

  it('survives a store that fails for a while: pauses, retries and loses nothing', async () => {
    let failuresLeft = 3;
    const duck = await DuckDbStore.open(':memory:');
    cleanups.push(() => duck.close());
    // Fault injection around a real store: the first writes fail as if the server were down.
    const flaky = around(duck, true, async (spec, rows, checkpoints) => {
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        throw new Error('store down');
      }
      return duck.write(spec, rows, checkpoints);
    });
    const { runner, send, metrics } = await setup(flaky);
    const samples = procSamples({ seed: 4, series: 3, windows: 3, startMs: T0, stepMs: 20_000 });
    await send(samples);
    const r = runner();
    await r.start();
    cleanups.push(() => r.stop());
    // While the store refuses writes the aggregator says so (readiness reads this) and stops fetching.
    await waitFor('waiting for the store', async () => (r.status === 'waiting-for-store' ? true : undefined), 10_000, 20);
    expect(await counter(metrics, 'rollgate_aggregator_waiting_for_sink')).toBe(1);
    const expected = await oracle(samples);
    const rows = await waitFor('recovered rows', async () => {
      const s = await stored(duck);
      return s.filter((x) => x.final).length === 9 ? s : undefined;
    }, 30_000);
    expect(await counter(metrics, 'rollgate_sink_write_errors_total')).toBe(3);
    expect(r.status).toBe('running');
    expect(await counter(metrics, 'rollgate_aggregator_waiting_for_sink')).toBe(0);
    expect(rows.map(({ final: _f, ...rest }) => rest)).toEqual(expected);
  }, 40_000);
});
