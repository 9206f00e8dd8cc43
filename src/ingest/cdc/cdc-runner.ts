import { checkBinlogSettings, describeBinlogProblems } from '../../core/cdc/binlog-settings.js';
import { changeRecords, type RowChange, type SourceContext } from '../../core/cdc/change-event.js';
import type { TableSchema } from '../../core/cdc/column-values.js';
import { sameTables, type CdcOffset } from '../../core/cdc/offset.js';
import { RollgateError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics.js';
import type { BinlogStream, BinlogStreamHandlers, StreamStart } from './binlog-stream.js';
import type { ChangeLog, ChangeMessage } from './change-log.js';
import type { MySqlCdcSource } from './mysql-cdc-source.js';

export interface CdcRunnerOptions {
  /** Logical source name: the offset's key, `source.name` in every event. */
  name: string;
  tables: readonly string[];
  topicPrefix: string;
  /** The server id CDC reads the binlog with, as a replica. */
  replicaServerId: number;
  /** Partitions of the change topics CDC creates (existing topics are used as they are). */
  partitions: number;
  batchMaxRecords?: number;
  batchMaxBytes?: number;
  snapshotPageRows?: number;
  /** Changes held in memory before the binlog socket is paused. */
  maxQueued?: number;
  /** How often an offset-only record is written when only other tables changed. */
  checkpointIntervalMs?: number;
  /** First retry delay; doubles up to 30 s. */
  backoffBaseMs?: number;
}

export type CdcStatus = 'starting' | 'snapshotting' | 'streaming' | 'waiting-for-kafka' | 'waiting-for-mysql' | 'stopped' | 'failed';

type QueueItem = { kind: 'change'; change: RowChange } | { kind: 'checkpoint'; at: StreamStart };

export interface CdcRunnerDeps {
  source: MySqlCdcSource;
  changeLog: ChangeLog;
  openStream(start: StreamStart, handlers: BinlogStreamHandlers): BinlogStream;
  logger: Logger;
  metrics?: Metrics;
}

const MAX_BACKOFF_MS = 30_000;
/** MySQL's ER_MASTER_FATAL_ERROR_READING_BINLOG: the position is gone (purged) or invalid; retrying cannot help. */
const BINLOG_GONE = 1236;

/**
 * `rollgate cdc`: a consistent snapshot of the captured tables on first
 * start, then their binlog, as Debezium change events in Kafka.
 *
 * Nothing is lost: the offset (binlog position + changes already written
 * after it) is stored in the same Kafka transaction as the events it
 * covers, and every restart — of the process, of the binlog connection
 * after a MySQL error, or after Kafka was unreachable — resumes from the
 * stored offset. While Kafka refuses writes, the batch is retried with
 * backoff (never dropped) and the binlog socket is paused once
 * `maxQueued` changes wait in memory.
 */
export class CdcRunner {
  private statusValue: CdcStatus = 'starting';
  private committed: CdcOffset | undefined;
  private pendingCheckpoint: StreamStart | undefined;
  private lastWriteAt = 0;
  private queue: QueueItem[] = [];
  /** Wakes the writer loop when the queue gets items or the stream fails. */
  private wake: (() => void) | undefined;
  /** Ends backoff sleeps early; only stop() fires them. */
  private readonly onStop = new Set<() => void>();
  private stream: BinlogStream | undefined;
  private streamFailure: Error | undefined;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private schemas = new Map<string, TableSchema>();
  private reloadedFor = new Map<string, string>();
  private context: SourceContext | undefined;
  private lastGtid: string | null = null;
  private fatal: (err: Error) => void = () => undefined;
  /** Rejects when CDC stops for good (e.g. the stored binlog position was purged); never resolves otherwise. */
  readonly failure: Promise<never>;
  private readonly opts: Required<CdcRunnerOptions>;

  constructor(
    private readonly deps: CdcRunnerDeps,
    options: CdcRunnerOptions,
  ) {
    this.opts = {
      batchMaxRecords: 500,
      batchMaxBytes: 512 * 1024,
      snapshotPageRows: 1000,
      maxQueued: 10_000,
      checkpointIntervalMs: 1000,
      backoffBaseMs: 250,
      ...options,
    };
    this.failure = new Promise<never>((_resolve, reject) => (this.fatal = reject));
    // A caller that never awaits `failure` must not see an unhandled rejection.
    this.failure.catch(() => undefined);
  }

  get status(): CdcStatus {
    return this.statusValue;
  }

  /** The offset last stored with the events it covers. */
  get committedOffset(): CdcOffset | undefined {
    return this.committed;
  }

  private setStatus(status: CdcStatus): void {
    this.statusValue = status;
    this.deps.metrics?.cdcWaiting.set({ reason: 'kafka' }, status === 'waiting-for-kafka' ? 1 : 0);
    this.deps.metrics?.cdcWaiting.set({ reason: 'mysql' }, status === 'waiting-for-mysql' ? 1 : 0);
  }

  private topicFor(table: string): string {
    return this.opts.topicPrefix + table;
  }

  /**
   * Checks the binlog settings (failing fast with the settings to change),
   * takes the snapshot when no offset is stored, and starts streaming.
   * Resolves once the binlog is being read.
   */
  async start(): Promise<void> {
    const { source, changeLog, logger } = this.deps;
    const variables = await source.binlogVariables();
    const verdict = checkBinlogSettings(variables, this.opts.replicaServerId);
    if (!verdict.ok) throw new RollgateError('INVALID_CONFIG', describeBinlogProblems(verdict));
    this.context = {
      connectorName: this.opts.name,
      connector: verdict.flavor,
      serverId: Number(variables.get('server_id')),
      database: source.database,
    };

    await changeLog.ensureTopics(this.opts.tables.map((t) => this.topicFor(t)), this.opts.partitions);
    let offset = await changeLog.open();
    if (offset !== undefined && (offset.database !== source.database || !sameTables(offset.tables, this.opts.tables))) {
      throw new RollgateError(
        'INVALID_CONFIG',
        `the offset stored for CDC ${this.opts.name} covers ${offset.database} tables ${offset.tables.join(', ')}, not ${source.database} tables ${[...this.opts.tables].sort().join(', ')}: ` +
          'run it with its old tables, or under a new --name (which takes a new snapshot)',
      );
    }
    if (offset === undefined) {
      offset = await this.snapshot();
    } else {
      this.schemas = await source.tableSchemas(this.opts.tables);
      logger.info({ file: offset.file, pos: offset.pos, skip: offset.skip }, 'resuming from the stored offset');
    }
    this.committed = offset;
    this.lastGtid = offset.gtid;
    await this.openStream(offset);
    this.setStatus('streaming');
    this.loop = this.run().catch((err: unknown) => {
      const error = err instanceof Error ? err : new Error(String(err));
      logger.fatal({ err: error }, 'CDC stopped');
      this.setStatus('failed');
      this.fatal(error);
    });
  }

  /** Stops reading, writes what is already decoded (one attempt), and closes the binlog connection. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    for (const fire of this.onStop) fire();
    await this.stream?.stop();
    await this.loop;
    this.setStatus('stopped');
  }

  // ---------------------------------------------------------------------------
  // Snapshot
  // ---------------------------------------------------------------------------

  private async snapshot(): Promise<CdcOffset> {
    const { source, logger } = this.deps;
    this.setStatus('snapshotting');
    const snap = await source.openSnapshot(this.context!.connector, this.opts.tables);
    try {
      this.schemas = new Map(snap.schemas);
      for (const table of this.opts.tables) {
        if (!snap.schemas.has(table)) logger.warn({ table }, 'captured table does not exist yet; its changes are captured from when it is created');
      }
      const { file, pos, gtid, startedAtMs } = snap.point;
      // The final record is marked snapshot "last", so one is held back until the next arrives.
      let held: RowChange | undefined;
      let batch: RowChange[] = [];
      let rows = 0;
      for (const table of this.opts.tables) {
        for await (const page of snap.pages(table, this.opts.snapshotPageRows)) {
          for (const after of page) {
            if (held !== undefined) batch.push(held);
            held = { table, op: 'r', before: null, after, position: { file, pos, row: 0 }, sourceTsMs: startedAtMs, gtid, snapshot: 'true' };
          }
          rows += page.length;
          this.deps.metrics?.cdcSnapshotRows.inc({ table }, page.length);
          if (batch.length >= this.opts.batchMaxRecords) {
            await this.writeChanges(batch, undefined);
            batch = [];
            logger.info({ table, rows }, 'snapshot progress');
          }
        }
      }
      if (held !== undefined) batch.push({ ...held, snapshot: 'last' });
      const offset: CdcOffset = { file, pos, skip: 0, database: source.database, tables: [...this.opts.tables].sort(), gtid, updatedAtMs: Date.now() };
      await this.writeChanges(batch, offset);
      logger.info({ rows, file, pos }, 'snapshot complete; streaming the binlog from its position');
      return offset;
    } finally {
      await snap.close();
    }
  }

  // ---------------------------------------------------------------------------
  // Streaming
  // ---------------------------------------------------------------------------

  private async openStream(from: CdcOffset): Promise<void> {
    const start: StreamStart = { file: from.file, pos: from.pos, skip: from.skip };
    let stream: BinlogStream | undefined = undefined;
    const current = () => stream !== undefined && stream === this.stream;
    stream = this.deps.openStream(start, {
      change: (change) => {
        if (!current()) return;
        this.queue.push({ kind: 'change', change });
        if (this.queue.length >= this.opts.maxQueued) stream?.pause();
        this.wake?.();
      },
      checkpoint: (at) => {
        if (!current()) return;
        this.queue.push({ kind: 'checkpoint', at });
        this.wake?.();
      },
      failed: (err) => {
        if (!current() || this.stopping) return;
        this.streamFailure = err;
        this.wake?.();
      },
    });
    this.stream = stream;
    this.streamFailure = undefined;
    this.pendingCheckpoint = undefined;
    try {
      await stream.start();
    } catch (err) {
      await stream.stop();
      throw err;
    }
    this.deps.logger.info({ file: start.file, pos: start.pos, skip: start.skip }, 'reading the binlog');
  }

  private async run(): Promise<void> {
    try {
      await this.follow();
    } catch (err) {
      // Stopping cuts retries short; what was not written is re-read from the stored offset next time.
      if (!this.stopping) throw err;
      this.deps.logger.warn({ err: errorSummary(err) }, 'stopped before Kafka took the last changes; the next start re-reads them');
      return;
    }
    // Stopping: what was decoded goes out if Kafka takes it at once; otherwise the stored offset replays it.
    if (this.queue.length > 0) {
      await this.writeQueued(false).catch((err: unknown) => this.deps.logger.warn({ err: errorSummary(err) }, 'could not write the last changes on stop; the next start re-reads them'));
    }
  }

  private async follow(): Promise<void> {
    while (!this.stopping) {
      if (this.queue.length > 0) {
        await this.writeQueued();
        continue;
      }
      if (this.streamFailure !== undefined) {
        // Everything decoded before the failure is written; re-read from there.
        await this.restartStream(this.streamFailure);
        continue;
      }
      const dueIn = this.pendingCheckpoint === undefined ? undefined : this.lastWriteAt + this.opts.checkpointIntervalMs - Date.now();
      if (dueIn !== undefined && dueIn <= 0) {
        await this.writeChanges([], this.offsetAt(this.pendingCheckpoint!));
        this.pendingCheckpoint = undefined;
        continue;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        if (dueIn !== undefined) setTimeout(resolve, dueIn);
      });
      this.wake = undefined;
    }
  }

  /** Takes one batch off the queue and writes it with the offset after its last item. */
  private async writeQueued(retry = true): Promise<void> {
    const changes: RowChange[] = [];
    let last: StreamStart | undefined;
    while (this.queue.length > 0 && changes.length < this.opts.batchMaxRecords) {
      const item = this.queue.shift()!;
      if (item.kind === 'change') {
        changes.push(item.change);
        if (item.change.gtid !== null) this.lastGtid = item.change.gtid;
        last = { file: item.change.position.file, pos: item.change.position.pos, skip: item.change.position.row + 1 };
      } else {
        last = item.at;
      }
    }
    if (this.stream?.isPaused === true && this.queue.length <= this.opts.maxQueued / 2) this.stream.resume();
    if (last === undefined) return;
    if (changes.length === 0) {
      // Only other tables' transactions went by: store the position now and then, not per transaction.
      if (!sameStart(last, this.committed)) this.pendingCheckpoint = last;
      return;
    }
    this.pendingCheckpoint = undefined;
    await this.writeChanges(changes, this.offsetAt(last), retry);
  }

  private offsetAt(at: StreamStart): CdcOffset {
    return {
      file: at.file,
      pos: at.pos,
      skip: at.skip,
      database: this.deps.source.database,
      tables: [...this.opts.tables].sort(),
      gtid: this.lastGtid,
      updatedAtMs: Date.now(),
    };
  }

  private async restartStream(cause: Error): Promise<void> {
    const { logger } = this.deps;
    if ((cause as { errno?: unknown }).errno === BINLOG_GONE) {
      throw new RollgateError(
        'DEPENDENCY_UNAVAILABLE',
        `the server cannot send the binlog from the stored offset ${this.committed?.file}:${this.committed?.pos} (${cause.message}); ` +
          `if it was purged, start CDC under a new --name to take a new snapshot`,
        { cause },
      );
    }
    logger.warn({ err: errorSummary(cause) }, 'binlog stream failed; re-reading from the stored offset');
    await this.stream?.stop();
    this.stream = undefined;
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        await this.openStream(this.committed!);
        this.setStatus('streaming');
        return;
      } catch (err) {
        this.setStatus('waiting-for-mysql');
        if ((err as { errno?: unknown }).errno === BINLOG_GONE) return this.restartStream(err as Error);
        logger.warn({ err: errorSummary(err), attempt }, 'cannot read the binlog; retrying');
        await this.sleep(backoffMs(attempt, this.opts.backoffBaseMs));
      }
    }
  }

  // ---------------------------------------------------------------------------
  // Writing
  // ---------------------------------------------------------------------------

  /**
   * Writes changes (in chunks that fit a Kafka request) and the offset with
   * the last chunk. A failed write is reconciled before it is retried: the
   * writer is replaced (which aborts whatever it left open) and the stored
   * offset read back, so a write that did land is not written twice.
   */
  private async writeChanges(changes: readonly RowChange[], offset: CdcOffset | undefined, retry = true): Promise<void> {
    const messages: ChangeMessage[] = [];
    for (const change of changes) messages.push(...(await this.toMessages(change)));
    const chunks = chunkMessages(messages, this.opts.batchMaxBytes);
    for (let i = 0; i < chunks.length; i++) {
      const last = i === chunks.length - 1;
      await this.writeChunk(chunks[i]!, last ? offset : undefined, retry);
    }
    this.lastWriteAt = Date.now();
    for (const change of changes) this.deps.metrics?.cdcChanges.inc({ table: change.table, op: change.op });
    const newest = changes[changes.length - 1];
    if (newest !== undefined && newest.snapshot === 'false') this.deps.metrics?.cdcLagSeconds.set(Math.max(0, (Date.now() - newest.sourceTsMs) / 1000));
  }

  private async writeChunk(messages: readonly ChangeMessage[], offset: CdcOffset | undefined, retry: boolean): Promise<void> {
    const { changeLog, logger } = this.deps;
    const resumed = (attempts: number) => {
      if (this.statusValue !== 'waiting-for-kafka') return;
      logger.info({ attempts }, 'Kafka accepts writes again');
      this.setStatus(this.committed === undefined ? 'snapshotting' : 'streaming');
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await changeLog.write(messages, offset);
        if (offset !== undefined) this.committed = offset;
        resumed(attempt);
        return;
      } catch (err) {
        this.deps.metrics?.cdcWriteErrors.inc();
        if (!retry || this.stopping) throw err;
        this.setStatus('waiting-for-kafka');
        logger.warn({ err: errorSummary(err), attempt, messages: messages.length }, 'writing changes to Kafka failed; holding them and retrying');
        if (await this.landed(offset)) {
          resumed(attempt);
          return;
        }
      }
    }
  }

  /** After a failed write: waits until the stored offset can be read, and says whether the write landed after all. */
  private async landed(offset: CdcOffset | undefined): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      await this.sleep(backoffMs(attempt, this.opts.backoffBaseMs));
      if (this.stopping) throw new RollgateError('DEPENDENCY_UNAVAILABLE', 'stopped while Kafka was unavailable');
      let stored: CdcOffset | undefined;
      try {
        stored = await this.deps.changeLog.recover();
      } catch (err) {
        this.deps.logger.warn({ err: errorSummary(err), attempt }, 'Kafka still unavailable');
        continue;
      }
      if (offset !== undefined && sameOffset(stored, offset)) {
        this.committed = offset;
        return true;
      }
      if (!sameOffset(stored, this.committed)) {
        throw new RollgateError(
          'INVALID_CONFIG',
          `the offset stored for CDC ${this.opts.name} moved to ${stored?.file}:${stored?.pos} while this process held ${this.committed?.file}:${this.committed?.pos}: is another CDC with the same name running?`,
        );
      }
      return false;
    }
  }

  private async toMessages(change: RowChange): Promise<ChangeMessage[]> {
    const schema = await this.schemaFor(change);
    return changeRecords(change, schema, this.context!, Date.now()).map((r) => ({
      topic: this.topicFor(r.table),
      key: r.key,
      value: JSON.stringify(r.envelope),
      headers: r.headers,
    }));
  }

  /**
   * The table's schema as CDC last read it; read again when a row's columns
   * differ (ALTER TABLE since), once per column set. A table that cannot be
   * read still gets its events, encoded by value and without a key.
   */
  private async schemaFor(change: RowChange): Promise<TableSchema> {
    const image = change.after ?? change.before ?? {};
    const columns = Object.keys(image).join(',');
    let schema = this.schemas.get(change.table);
    const matches = schema !== undefined && schema.columns.map((c) => c.name).join(',') === columns;
    if (!matches && this.reloadedFor.get(change.table) !== columns) {
      this.reloadedFor.set(change.table, columns);
      try {
        const fresh = await this.deps.source.tableSchemas([change.table]);
        const reloaded = fresh.get(change.table);
        if (reloaded !== undefined) this.schemas.set(change.table, (schema = reloaded));
      } catch (err) {
        this.deps.logger.warn({ err: errorSummary(err), table: change.table }, 'could not re-read the table schema; encoding by value');
      }
    }
    return schema ?? { database: this.deps.source.database, table: change.table, columns: [], primaryKey: [] };
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.onStop.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.onStop.add(done);
    });
  }
}

function backoffMs(attempt: number, baseMs: number): number {
  const base = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.min(attempt, 10));
  return base / 2 + Math.random() * (base / 2);
}

function sameOffset(a: CdcOffset | undefined, b: CdcOffset | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.file === b.file && a.pos === b.pos && a.skip === b.skip;
}

function sameStart(a: StreamStart, b: CdcOffset | undefined): boolean {
  return b !== undefined && a.file === b.file && a.pos === b.pos && a.skip === b.skip;
}

/** Splits messages so no Kafka request grows past `maxBytes` (the broker refuses record batches over 1 MiB by default). */
export function chunkMessages(messages: readonly ChangeMessage[], maxBytes: number): ChangeMessage[][] {
  const chunks: ChangeMessage[][] = [[]];
  let bytes = 0;
  for (const m of messages) {
    const size = m.value.length + (m.key?.length ?? 0) + 64;
    const current = chunks[chunks.length - 1]!;
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push([m]);
      bytes = size;
    } else {
      current.push(m);
      bytes += size;
    }
  }
  return chunks;
}

/** An error's code and message for the log: never the connection settings or the row values. */
function errorSummary(err: unknown): { code?: unknown; errno?: unknown; message: string } {
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown; errno?: unknown };
    return { code: e.code, errno: e.errno, message: e.message };
  }
  return { message: String(err) };
}
