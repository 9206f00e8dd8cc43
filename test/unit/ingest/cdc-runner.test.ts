import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { RowChange, RowImage } from '../../../src/core/cdc/change-event.js';
import type { TableSchema } from '../../../src/core/cdc/column-values.js';
import type { CdcOffset } from '../../../src/core/cdc/offset.js';
import type { BinlogStream, BinlogStreamHandlers, StreamStart } from '../../../src/ingest/cdc/binlog-stream.js';
import { CdcRunner, chunkMessages, type CdcRunnerOptions } from '../../../src/ingest/cdc/cdc-runner.js';
import type { ChangeLog, ChangeMessage } from '../../../src/ingest/cdc/change-log.js';
import type { MySqlCdcSource, Snapshot } from '../../../src/ingest/cdc/mysql-cdc-source.js';
import { RollgateError } from '../../../src/errors.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The runner's promises, with MySQL, the binlog and Kafka replaced by fakes
 * that fail on cue: a Kafka outage never loses or doubles a change, a write
 * that landed but reported failure is not repeated, and a broken binlog
 * stream is re-read from the stored offset.
 */
const silent = pino({ level: 'silent' });
const orders: TableSchema = {
  database: 'shop',
  table: 'orders',
  columns: [
    { name: 'order_id', kind: 'integer' },
    { name: 'order_revenue', kind: 'float' },
  ],
  primaryKey: ['order_id'],
};
const GOOD_VARIABLES = new Map(Object.entries({ log_bin: 'ON', binlog_format: 'ROW', binlog_row_image: 'FULL', server_id: '1', version: '10.11.19-MariaDB' }));

function fakeSource(rows: RowImage[], variables = GOOD_VARIABLES): MySqlCdcSource {
  const snapshot = {
    point: { file: 'bin.000001', pos: 100, gtid: null, startedAtMs: 1, method: 'mariadb-consistent-snapshot' },
    schemas: new Map([['orders', orders]]),
    async *pages(table: string) {
      if (table === 'orders' && rows.length > 0) yield rows;
    },
    close: async () => undefined,
  } as unknown as Snapshot;
  return {
    database: 'shop',
    binlogVariables: async () => variables,
    tableSchemas: async () => new Map([['orders', orders]]),
    openSnapshot: async () => snapshot,
  } as unknown as MySqlCdcSource;
}

/** Kafka as a list: a write is atomic; `failNext` writes throw, and with `landAnyway` they land first (a lost commit ack). */
class FakeLog implements ChangeLog {
  messages: ChangeMessage[] = [];
  stored: CdcOffset | undefined;
  failNext = 0;
  landAnyway = false;
  down = false;
  writes = 0;
  recoveries = 0;
  async ensureTopics(): Promise<void> {}
  async open(): Promise<CdcOffset | undefined> {
    return this.stored;
  }
  async write(messages: readonly ChangeMessage[], offset: CdcOffset | undefined): Promise<void> {
    this.writes++;
    if (this.down) throw new RollgateError('DEPENDENCY_UNAVAILABLE', 'kafka is unavailable', { retriable: true });
    if (this.failNext > 0) {
      this.failNext--;
      if (this.landAnyway) this.land(messages, offset);
      throw new RollgateError('DEPENDENCY_UNAVAILABLE', 'kafka is unavailable', { retriable: true });
    }
    this.land(messages, offset);
  }
  private land(messages: readonly ChangeMessage[], offset: CdcOffset | undefined) {
    this.messages.push(...messages);
    if (offset !== undefined) this.stored = offset;
  }
  async recover(): Promise<CdcOffset | undefined> {
    this.recoveries++;
    if (this.down) throw new RollgateError('DEPENDENCY_UNAVAILABLE', 'kafka is unavailable', { retriable: true });
    return this.stored;
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

/** The binlog as a script: the test pushes changes, checkpoints and failures through the handlers. */
class FakeStreams {
  starts: StreamStart[] = [];
  handlers: BinlogStreamHandlers | undefined;
  paused = false;
  pauses = 0;
  open = (start: StreamStart, handlers: BinlogStreamHandlers): BinlogStream => {
    this.starts.push(start);
    this.handlers = handlers;
    const stream = {
      start: async () => undefined,
      stop: async () => undefined,
      pause: () => {
        this.paused = true;
        this.pauses++;
      },
      resume: () => (this.paused = false),
    };
    Object.defineProperty(stream, 'isPaused', { get: () => this.paused });
    return stream as unknown as BinlogStream;
  };
  insert(id: number, pos: number, row: number): void {
    const change: RowChange = {
      table: 'orders',
      op: 'c',
      before: null,
      after: { order_id: id, order_revenue: id },
      position: { file: 'bin.000001', pos, row },
      sourceTsMs: 1000,
      gtid: null,
      snapshot: 'false',
    };
    this.handlers!.change(change);
  }
}

function runner(log: FakeLog, streams: FakeStreams, source = fakeSource([{ order_id: 1, order_revenue: 1 }]), extra: Partial<CdcRunnerOptions> = {}) {
  return new CdcRunner(
    { source, changeLog: log, openStream: streams.open, logger: silent },
    { name: 'shop', tables: ['orders'], topicPrefix: 't.', replicaServerId: 5401, partitions: 1, backoffBaseMs: 1, checkpointIntervalMs: 10, ...extra },
  );
}

const ids = (log: FakeLog) => log.messages.map((m) => (JSON.parse(m.value) as { after: { order_id: number } | null }).after?.order_id);

describe('CdcRunner', () => {
  it('snapshots, stores the snapshot position with the last snapshot record, and streams from it', async () => {
    const log = new FakeLog();
    const streams = new FakeStreams();
    const cdc = runner(log, streams);
    await cdc.start();
    expect(log.stored).toMatchObject({ file: 'bin.000001', pos: 100, skip: 0, tables: ['orders'] });
    expect(streams.starts).toEqual([{ file: 'bin.000001', pos: 100, skip: 0 }]);
    expect(JSON.parse(log.messages[0]!.value)).toMatchObject({ op: 'r', source: { snapshot: 'last' } });
    streams.insert(2, 150, 0);
    streams.insert(3, 150, 1);
    await waitFor('the stream to be written', async () => (log.stored?.skip === 2 ? true : undefined), 5000, 5);
    expect(ids(log)).toEqual([1, 2, 3]);
    expect(log.messages.map((m) => m.topic)).toEqual(['t.orders', 't.orders', 't.orders']);
    expect(log.messages[1]!.key).toBe('{"order_id":2}');
    streams.handlers!.checkpoint({ file: 'bin.000001', pos: 300, skip: 0 });
    await waitFor('the checkpoint to be stored', async () => (log.stored?.pos === 300 ? true : undefined), 5000, 5);
    await cdc.stop();
  });

  it('holds changes through a Kafka outage, pauses the binlog while they pile up, and writes each exactly once', async () => {
    const log = new FakeLog();
    const streams = new FakeStreams();
    const cdc = runner(log, streams, undefined, { maxQueued: 10, batchMaxRecords: 4 });
    await cdc.start();
    log.down = true;
    for (let i = 0; i < 30; i++) streams.insert(100 + i, 200 + i, 0);
    await waitFor('the runner to wait for Kafka', async () => (cdc.status === 'waiting-for-kafka' ? true : undefined), 5000, 5);
    expect(streams.paused).toBe(true);
    // While Kafka is down it keeps trying to read the stored offset back (to know whether the failed
    // write landed) before it writes again: retrying, not giving up, and not writing blind.
    const attempts = log.recoveries;
    await new Promise((r) => setTimeout(r, 50));
    expect(log.recoveries).toBeGreaterThan(attempts);
    expect(log.messages).toHaveLength(1);
    log.down = false;
    await waitFor('everything to be written', async () => (log.messages.length === 31 ? true : undefined), 5000, 5);
    await waitFor('streaming again', async () => (cdc.status === 'streaming' ? true : undefined), 5000, 5);
    expect(ids(log)).toEqual([1, ...Array.from({ length: 30 }, (_, i) => 100 + i)]);
    expect(streams.paused).toBe(false);
    expect(log.stored).toMatchObject({ pos: 229, skip: 1 });
    await cdc.stop();
  });

  it('does not write a batch twice when Kafka took it but the answer was lost', async () => {
    const log = new FakeLog();
    const streams = new FakeStreams();
    const cdc = runner(log, streams);
    await cdc.start();
    log.failNext = 1;
    log.landAnyway = true;
    streams.insert(2, 150, 0);
    await waitFor('the write to be reconciled', async () => (cdc.status === 'streaming' && log.failNext === 0 && log.stored?.skip === 1 ? true : undefined), 5000, 5);
    streams.insert(3, 160, 0);
    await waitFor('the next change', async () => (log.stored?.pos === 160 ? true : undefined), 5000, 5);
    expect(ids(log)).toEqual([1, 2, 3]);
    await cdc.stop();
  });

  it('re-reads the binlog from the stored offset, skipping what it already wrote, when the stream fails', async () => {
    const log = new FakeLog();
    const streams = new FakeStreams();
    const cdc = runner(log, streams);
    await cdc.start();
    streams.insert(2, 150, 0);
    streams.insert(3, 150, 1);
    await waitFor('two changes written', async () => (log.stored?.skip === 2 ? true : undefined), 5000, 5);
    streams.handlers!.failed(new Error('Connection lost: The server closed the connection.'));
    await waitFor('a new stream', async () => (streams.starts.length === 2 ? true : undefined), 5000, 5);
    expect(streams.starts[1]).toEqual({ file: 'bin.000001', pos: 150, skip: 2 });
    await cdc.stop();
  });

  it('stops for good when the stored binlog position is gone', async () => {
    const log = new FakeLog();
    const streams = new FakeStreams();
    const cdc = runner(log, streams);
    await cdc.start();
    streams.handlers!.failed(Object.assign(new Error('Could not find first log file name in binary log index file'), { errno: 1236 }));
    await expect(cdc.failure).rejects.toThrow(/new --name to take a new snapshot/);
    expect(cdc.status).toBe('failed');
  });

  it('fails fast on a binlog it cannot read, naming the settings', async () => {
    const off = new Map([...GOOD_VARIABLES, ['log_bin', 'OFF'], ['binlog_format', 'MIXED']]);
    const cdc = runner(new FakeLog(), new FakeStreams(), fakeSource([], off));
    await expect(cdc.start()).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('binlog_format = ROW') });
  });

  it('refuses an offset stored for other tables rather than skip the wrong rows', async () => {
    const log = new FakeLog();
    log.stored = { file: 'bin.000001', pos: 100, skip: 3, database: 'shop', tables: ['customers', 'orders'], gtid: null, updatedAtMs: 0 };
    await expect(runner(log, new FakeStreams()).start()).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('new --name') });
  });
});

describe('chunkMessages', () => {
  it('keeps each Kafka request under the byte limit, and every message once, in order', () => {
    const messages = Array.from({ length: 10 }, (_, i) => ({ topic: 't', key: String(i), value: 'x'.repeat(100), headers: {} }));
    const chunks = chunkMessages(messages, 400);
    expect(chunks.map((c) => c.length)).toEqual([2, 2, 2, 2, 2]);
    expect(chunks.flat()).toEqual(messages);
    expect(chunkMessages([], 400)).toEqual([[]]);
    expect(chunkMessages([{ topic: 't', key: null, value: 'y'.repeat(1000), headers: {} }], 400)).toHaveLength(1);
  });
});
