import { gunzipSync, gzip } from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip);

/**
 * One checkpoint segment of a partition (version 2): a base holds every open
 * group, a delta only the groups changed since the segment it applies on.
 * Both carry the whole small header, including every open window's start, so
 * windows closed since the base drop out when a delta is applied.
 */
export interface CheckpointData {
  v: 2;
  kind: 'base' | 'delta';
  nextOffset: number;
  maxEventTime: number | null;
  watermarkFloor: number | null;
  /** The measure ops in spec order, checked on restore like the v1 format checks each accumulator. */
  ops: string[];
  /** Numbers per group: the packed measure slots (see MeasureLayout). */
  slotCount: number;
  openWindows: number[];
  windows: CheckpointWindow[];
}

/**
 * The groups of one window in columns: group-by values per column, measure
 * slots packed row after row, event counts, and distinct sketches per measure.
 * Columns of like values compress far better than one JSON object per group.
 */
export interface CheckpointWindow {
  start: number;
  columns: Array<Array<string | number>>;
  slots: Float64Array;
  events: Float64Array;
  /** Per distinct measure, one serialized HyperLogLog per group. */
  sketches: string[][];
}

const PREFIX = 'rgc2:';

/** True for a v2 segment; anything else stored as a checkpoint is a v1 JSON snapshot. */
export function isEncodedCheckpoint(state: string): boolean {
  return state.startsWith(PREFIX);
}

/**
 * Header as JSON (group values and sketches are text anyway), then every
 * window's numbers as raw doubles, gzip'd at level 1 (the fast end: this runs
 * on the flush path) and base64'd so every store keeps it as text. Doubles
 * stay exact, so a restored state rewrites the very rows of an uninterrupted run.
 */
export async function encodeCheckpoint(data: CheckpointData): Promise<string> {
  return PREFIX + (await gzipAsync(frame(data), { level: 1 })).toString('base64');
}

function frame(data: CheckpointData): Buffer {
  const header = {
    ...data,
    windows: data.windows.map((w) => ({ start: w.start, n: w.events.length, columns: w.columns, sketches: w.sketches })),
  };
  const json = Buffer.from(JSON.stringify(header));
  // The doubles start on an 8-byte boundary so they can be read in place.
  const headerBytes = Math.ceil((4 + json.length) / 8) * 8;
  let numbers = 0;
  for (const w of data.windows) numbers += w.slots.length + w.events.length;
  const out = Buffer.alloc(headerBytes + numbers * 8);
  out.writeUInt32LE(json.length, 0);
  json.copy(out, 4);
  let at = headerBytes;
  for (const w of data.windows) {
    for (const part of [w.slots, w.events]) {
      Buffer.from(part.buffer, part.byteOffset, part.byteLength).copy(out, at);
      at += part.byteLength;
    }
  }
  return out;
}

export function decodeCheckpoint(state: string): CheckpointData {
  if (!isEncodedCheckpoint(state)) throw new Error('checkpoint: not a v2 segment');
  const raw = gunzipSync(Buffer.from(state.slice(PREFIX.length), 'base64'));
  const jsonLength = raw.readUInt32LE(0);
  const header = JSON.parse(raw.subarray(4, 4 + jsonLength).toString()) as Omit<CheckpointData, 'windows'> & {
    windows: Array<{ start: number; n: number; columns: Array<Array<string | number>>; sketches: string[][] }>;
  };
  if (header.v !== 2) throw new Error(`checkpoint: unknown version ${String(header.v)}`);
  // Copied out so the doubles are aligned whatever offset the decompressed buffer has.
  let at = Math.ceil((4 + jsonLength) / 8) * 8;
  const take = (count: number): Float64Array => {
    const bytes = raw.subarray(at, at + count * 8);
    if (bytes.length !== count * 8) throw new Error('checkpoint: truncated segment');
    at += count * 8;
    return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  };
  const windows = header.windows.map((w) => ({
    start: w.start,
    columns: w.columns,
    slots: take(w.n * header.slotCount),
    events: take(w.n),
    sketches: w.sketches,
  }));
  return { ...header, windows };
}
