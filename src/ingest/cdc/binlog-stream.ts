import ZongJi, { type AnyBinlogEvent, type RowData, type UpdateRowData } from '@vlasky/zongji';
import type { ChangeOp, RowChange } from '../../core/cdc/change-event.js';
import type { Logger } from '../../logger.js';
import type { MySqlEndpoint } from '../../store/mysql-url.js';
import { cdcConnectionOptions } from './mysql-cdc-source.js';

/** Where a stream starts: a dump position, and how many captured row changes after it were already delivered. */
export interface StreamStart {
  file: string;
  pos: number;
  skip: number;
}

export interface BinlogStreamHandlers {
  /** A decoded row change, in binlog order. Its offset-after is (file, pos, row + 1). */
  change(change: RowChange): void;
  /** A point where a restarted dump loses and repeats nothing: after a commit, a DDL statement or a rotate. */
  checkpoint(at: StreamStart): void;
  /** The stream cannot go on; nothing more is delivered after this. */
  failed(err: Error): void;
}

const OPS: Record<string, ChangeOp> = { writerows: 'c', updaterows: 'u', deleterows: 'd' };

/**
 * The binlog of one database's captured tables, read by @vlasky/zongji as a
 * replica with its own server id, turned into RowChange objects.
 *
 * Positions: zongji keeps `options.filename/position` at a point a dump can
 * restart from without losing a row: inside a transaction it stays at the
 * transaction's start (before its first TableMap) until the commit. Every
 * change carries that point plus a counter of the captured changes seen
 * since it, so (file, pos, row) grows with every change and a restarted
 * stream can skip exactly the changes already delivered.
 */
export class BinlogStream {
  private readonly zongji: ZongJi;
  private resumeFile: string;
  private resumePos: number;
  private rowsSinceResume = 0;
  private toSkip: number;
  private dead = false;
  private paused = false;
  private readonly database: string;

  constructor(
    endpoint: MySqlEndpoint,
    private readonly options: { replicaServerId: number; tables: readonly string[]; start: StreamStart },
    private readonly handlers: BinlogStreamHandlers,
    private readonly logger: Logger,
  ) {
    this.resumeFile = options.start.file;
    this.resumePos = options.start.pos;
    this.toSkip = options.start.skip;
    this.zongji = new ZongJi(cdcConnectionOptions(endpoint) as ConstructorParameters<typeof ZongJi>[0]);
    this.database = endpoint.database;
  }

  /** Resolves once the server accepted the dump request; rejects if it did not. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      let ready = false;
      this.zongji.on('ready', () => {
        ready = true;
        resolve();
      });
      this.zongji.on('error', (err: Error) => {
        if (!ready) reject(err);
        this.fail(err);
      });
      this.zongji.on('binlog', (event: AnyBinlogEvent) => {
        if (this.dead) return;
        try {
          this.onEvent(event);
        } catch (err) {
          this.fail(err instanceof Error ? err : new Error(String(err)));
        }
      });
      this.zongji.start({
        serverId: this.options.replicaServerId,
        filename: this.options.start.file,
        position: this.options.start.pos,
        includeEvents: ['tablemap', 'writerows', 'updaterows', 'deleterows', 'xid', 'query', 'rotate'],
        includeSchema: { [this.database]: [...this.options.tables] },
      });
    });
  }

  private onEvent(event: AnyBinlogEvent): void {
    const name = event.getEventName();
    const op = OPS[name];
    if (op === undefined) {
      // xid, query (COMMIT, DDL), rotate: zongji has moved its resume point past a whole transaction.
      if (name !== 'tablemap') this.handlers.checkpoint(this.position());
      return;
    }
    const rowsEvent = event as Extract<AnyBinlogEvent, { rows: unknown }>;
    const entry = rowsEvent.tableMap[rowsEvent.tableId];
    if (entry === undefined) throw new Error(`row event for unknown table id ${rowsEvent.tableId}`);
    const file = this.zongji.options.filename ?? this.resumeFile;
    const pos = this.zongji.options.position ?? this.resumePos;
    if (file !== this.resumeFile || pos !== this.resumePos) {
      if (this.toSkip > 0) {
        // The changes to skip were all before the first commit after the start point; a new point
        // means the offset did not match this binlog. Delivering twice is recoverable, skipping is not.
        this.logger.error({ file, pos, unskipped: this.toSkip }, 'binlog moved past the start point before the changes to skip were seen; delivering them all');
        this.toSkip = 0;
      }
      this.resumeFile = file;
      this.resumePos = pos;
      this.rowsSinceResume = 0;
    }
    const rows = rowsEvent.rows as Array<RowData | UpdateRowData>;
    for (const row of rows) {
      const index = this.rowsSinceResume++;
      if (this.toSkip > 0) {
        this.toSkip--;
        continue;
      }
      const update = op === 'u' ? (row as UpdateRowData) : undefined;
      this.handlers.change({
        table: entry.tableName,
        op,
        before: update !== undefined ? update.before : op === 'd' ? (row as RowData) : null,
        after: update !== undefined ? update.after : op === 'c' ? (row as RowData) : null,
        position: { file, pos, row: index },
        sourceTsMs: event.timestamp,
        gtid: event.gtid ?? null,
        snapshot: 'false',
      });
    }
  }

  /** zongji's current resume point, with the changes already counted there. */
  private position(): StreamStart {
    const file = this.zongji.options.filename ?? this.resumeFile;
    const pos = this.zongji.options.position ?? this.resumePos;
    const same = file === this.resumeFile && pos === this.resumePos;
    return { file, pos, skip: same ? this.rowsSinceResume : 0 };
  }

  private fail(err: Error): void {
    if (this.dead) return;
    this.dead = true;
    this.handlers.failed(err);
  }

  /**
   * Stops reading from the socket; the server buffers and then blocks.
   * Safe to call again: zongji resumes the socket itself after a metadata
   * lookup, so the caller re-pauses while it is still behind.
   */
  pause(): void {
    if (this.dead) return;
    this.paused = true;
    this.zongji.connection?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.zongji.connection?.resume();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  stop(): Promise<void> {
    this.dead = true;
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 3000);
      this.zongji.once('stopped', () => {
        clearTimeout(timer);
        resolve();
      });
      this.zongji.stop();
    });
  }
}
