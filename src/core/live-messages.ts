import { z } from 'zod';
import type { RollupRow } from './windowed-aggregation.js';

/**
 * The messages of live updates: aggregators publish them after a write, every
 * gateway relays them to its GraphQL subscribers. They cross Redis, so a
 * gateway decodes what it receives and drops anything malformed.
 */

/** The pub/sub topic of the rows one rollup wrote. */
export function rollupRowsTopic(rollup: string): string {
  return `rollup-rows:${rollup}`;
}

/** The pub/sub topic announcing that regional order totals moved. */
export const REGION_TOTALS_TOPIC = 'region-order-totals';

/** A window row as it travels: what the store was given, minus its version. */
export interface LiveRow {
  windowStart: number;
  group: Record<string, string | number>;
  measures: Record<string, number>;
  final: boolean;
}

export interface RollupRowsMessage {
  rollup: string;
  rows: LiveRow[];
}

export interface RegionTotalsMessage {
  /** Regions whose totals moved. */
  regions: string[];
}

/**
 * A message stays well under this many bytes of JSON: a large write (a
 * backfill) goes out as several messages, so no gateway or WebSocket client
 * ever holds one huge frame.
 */
export const MAX_LIVE_MESSAGE_BYTES = 128 * 1024;

/** The rows of one write, cut into messages of at most `maxBytes` of JSON each (a single larger row still goes alone). */
export function rowsMessages(rollup: string, rows: readonly RollupRow[], maxBytes = MAX_LIVE_MESSAGE_BYTES): string[] {
  const head = `{"rollup":${JSON.stringify(rollup)},"rows":[`;
  const out: string[] = [];
  let parts: string[] = [];
  let bytes = head.length + 2;
  for (const r of rows) {
    const part = JSON.stringify({ windowStart: r.windowStart, group: r.group, measures: r.measures, final: r.final } satisfies LiveRow);
    const size = Buffer.byteLength(part) + 1;
    if (parts.length > 0 && bytes + size > maxBytes) {
      out.push(`${head}${parts.join(',')}]}`);
      parts = [];
      bytes = head.length + 2;
    }
    parts.push(part);
    bytes += size;
  }
  if (parts.length > 0) out.push(`${head}${parts.join(',')}]}`);
  return out;
}

const LiveRowSchema = z.object({
  windowStart: z.number().int().nonnegative(),
  group: z.record(z.string(), z.union([z.string(), z.number()])),
  measures: z.record(z.string(), z.number()),
  final: z.boolean(),
});
const RowsMessageSchema = z.object({ rollup: z.string(), rows: z.array(LiveRowSchema) });
const RegionTotalsSchema = z.object({ regions: z.array(z.string()) });

// Every subscriber of a gateway receives the same decoded object, so it is checked once.
const decodedRows = new WeakMap<object, RollupRowsMessage | null>();
const decodedTotals = new WeakMap<object, RegionTotalsMessage | null>();

/** The message, or undefined when it is not a well-formed rows message. */
export function decodeRowsMessage(payload: unknown): RollupRowsMessage | undefined {
  return decodeOnce(payload, decodedRows, RowsMessageSchema);
}

/** The message, or undefined when it is not a well-formed region-totals message. */
export function decodeRegionTotalsMessage(payload: unknown): RegionTotalsMessage | undefined {
  return decodeOnce(payload, decodedTotals, RegionTotalsSchema);
}

function decodeOnce<T>(payload: unknown, seen: WeakMap<object, T | null>, schema: z.ZodType<T>): T | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  let decoded = seen.get(payload);
  if (decoded === undefined) {
    const parsed = schema.safeParse(payload);
    decoded = parsed.success ? parsed.data : null;
    seen.set(payload, decoded);
  }
  return decoded ?? undefined;
}

/** What a subscriber asked for: rows of one host or process, windows starting in [from, to), or final rows only. */
export interface LiveRowFilter {
  group?: Record<string, string | number | undefined>;
  from?: number;
  to?: number;
  finalOnly?: boolean;
}

export function matchesRow(row: LiveRow, filter: LiveRowFilter): boolean {
  if (filter.finalOnly === true && !row.final) return false;
  if (filter.from !== undefined && row.windowStart < filter.from) return false;
  if (filter.to !== undefined && row.windowStart >= filter.to) return false;
  for (const [field, wanted] of Object.entries(filter.group ?? {})) {
    if (wanted !== undefined && row.group[field] !== wanted) return false;
  }
  return true;
}
