import { createHash } from 'node:crypto';
import { invalidParameter } from '../errors.js';

/**
 * Relay cursor connections over a positioned list (the rows of one filter
 * and order), as the Relay Cursor Connections specification computes them:
 * cursors first cut the list, then `first` keeps the head and `last` the
 * tail, and `hasPreviousPage`/`hasNextPage` follow the spec's algorithms.
 * A cursor is the row's position, opaque to clients and bound to the query
 * it came from: the same position means another row under another filter.
 */

export interface ConnectionArgs {
  first?: number | undefined;
  after?: string | undefined;
  last?: number | undefined;
  before?: string | undefined;
}

/** The rows [start, end) of the list to return, and the page info the spec derives. */
export interface ConnectionSlice {
  start: number;
  end: number;
  hasPreviousPage: boolean;
  hasNextPage: boolean;
}

export interface SliceLimits {
  defaultPageSize: number;
  maxPageSize: number;
}

const PREFIX = 'rg1';
const MAX_OFFSET = 1_000_000_000;

/** A short digest of what defines the list (filter, order): cursors carry it and are refused elsewhere. */
export function cursorScope(kind: string, definedBy: unknown): string {
  return createHash('sha256').update(JSON.stringify([kind, definedBy])).digest('base64url').slice(0, 12);
}

export function encodeCursor(scope: string, offset: number): string {
  return Buffer.from(`${PREFIX}:${scope}:${offset}`, 'utf8').toString('base64url');
}

/** The position a cursor names; INVALID_PARAMETER naming the argument when it is not one of this list's cursors. */
export function decodeCursor(scope: string, cursor: string, field: 'after' | 'before'): number {
  const text = cursor.length <= 200 && /^[A-Za-z0-9_-]*$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const match = /^rg1:([A-Za-z0-9_-]{12}):(\d{1,10})$/.exec(text);
  if (match === null) throw invalidParameter(field, `${field} is not a cursor this server issued`);
  if (match[1] !== scope) throw invalidParameter(field, `${field} is a cursor of another query (filter or order differ)`);
  const offset = Number(match[2]);
  if (offset > MAX_OFFSET) throw invalidParameter(field, `${field} is not a cursor this server issued`);
  return offset;
}

/**
 * Applies the arguments to a list of `total` rows. Without `first` and
 * `last`, the first `defaultPageSize` rows after the cursors are returned.
 */
export function sliceConnection(args: ConnectionArgs, total: number, scope: string, limits: SliceLimits): ConnectionSlice {
  const first = pageCount('first', args.first, limits.maxPageSize);
  const last = pageCount('last', args.last, limits.maxPageSize);
  // ApplyCursorsToEdges
  const afterEnd = args.after !== undefined && args.after !== null ? Math.min(total, decodeCursor(scope, args.after, 'after') + 1) : 0;
  const beforeStart = args.before !== undefined && args.before !== null ? Math.min(total, decodeCursor(scope, args.before, 'before')) : total;
  const cutStart = afterEnd;
  const cutEnd = Math.max(cutStart, beforeStart);
  const cut = cutEnd - cutStart;

  const head = first ?? (last === undefined ? limits.defaultPageSize : undefined);
  let start = cutStart;
  let end = cutEnd;
  if (head !== undefined) end = Math.min(end, start + head);
  if (last !== undefined) start = Math.max(start, end - last);

  // HasPreviousPage and HasNextPage as the spec defines them; the optional "efficiently determine" branches are
  // exact here, since positions are known.
  const hasPreviousPage = last !== undefined ? cut > last : args.after !== undefined && args.after !== null ? afterEnd > 0 : false;
  const hasNextPage = head !== undefined ? cut > head : args.before !== undefined && args.before !== null ? beforeStart < total : false;
  return { start, end, hasPreviousPage, hasNextPage };
}

function pageCount(field: 'first' | 'last', value: number | undefined | null, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || value < 0) throw invalidParameter(field, `${field} must be a non-negative integer`);
  if (value > max) throw invalidParameter(field, `${field} must be at most ${max} (the maximum page size)`);
  return value;
}

/**
 * The pages of a page-numbered API that hold rows [start, end): one page of
 * that size when the range does not straddle a page boundary, else two.
 * `skip` is how many rows of the first page come before `start`.
 */
export function pagesCovering(start: number, end: number): { pageSize: number; pageNums: number[]; skip: number } | undefined {
  const size = end - start;
  if (size <= 0) return undefined;
  const firstPage = Math.floor(start / size);
  const lastPage = Math.floor((end - 1) / size);
  const pageNums = firstPage === lastPage ? [firstPage + 1] : [firstPage + 1, lastPage + 1];
  return { pageSize: size, pageNums, skip: start - firstPage * size };
}
