import { z } from 'zod';

/**
 * Positions in the binlog, and the offset CDC resumes from. Pure.
 *
 * A change's position is (file, pos, row): `pos` is the resume point of its
 * transaction (where a dump can restart and see the whole transaction
 * again) and `row` counts the captured row changes since that point. The
 * triple grows with every change, so a consumer can drop a replayed change
 * by comparing positions; the stored offset is the same triple, meaning
 * "restart the dump at (file, pos) and skip the first `row` changes".
 */
export interface BinlogPosition {
  file: string;
  pos: number;
  row: number;
}

export interface CdcOffset {
  file: string;
  pos: number;
  /** Captured row changes after (file, pos) that already reached Kafka. */
  skip: number;
  database: string;
  /** The captured tables, sorted: a different set cannot resume from this offset (its row counts differ). */
  tables: string[];
  /** The server's GTID position at this point, when known: informational. */
  gtid: string | null;
  updatedAtMs: number;
}

const OffsetSchema = z.object({
  file: z.string().min(1),
  pos: z.number().int().min(4),
  skip: z.number().int().min(0),
  database: z.string().min(1),
  tables: z.array(z.string().min(1)),
  gtid: z.string().nullable(),
  updatedAtMs: z.number(),
});

export function serializeOffset(offset: CdcOffset): string {
  return JSON.stringify(offset);
}

/** Throws on a record that is not a CDC offset: resuming from a guess could skip changes. */
export function parseOffset(text: string): CdcOffset {
  return OffsetSchema.parse(JSON.parse(text));
}

/** Orders binlog file names by their numeric suffix (`mysql-bin.000010` after `mysql-bin.000009`), whatever the base name. */
export function compareBinlogFiles(a: string, b: string): number {
  const suffix = (name: string) => {
    const m = /\.(\d+)$/.exec(name);
    return m === null ? Number.NaN : Number(m[1]);
  };
  const sa = suffix(a);
  const sb = suffix(b);
  if (!Number.isNaN(sa) && !Number.isNaN(sb) && sa !== sb) return sa - sb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Negative when `a` is earlier in the binlog than `b`, 0 when equal. */
export function compareBinlogPositions(a: BinlogPosition, b: BinlogPosition): number {
  return compareBinlogFiles(a.file, b.file) || a.pos - b.pos || a.row - b.row;
}

export function sameTables(a: readonly string[], b: readonly string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((t, i) => t === y[i]);
}
