import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RollgateError } from '../../../src/errors.js';
import { cursorScope, decodeCursor, encodeCursor, pagesCovering, sliceConnection } from '../../../src/graphql/connection.js';

const scope = cursorScope('test', { ip: 'a' });
const limits = { defaultPageSize: 10, maxPageSize: 100 };
const at = (offset: number) => encodeCursor(scope, offset);

/** The Relay spec's algorithm run on a real array of `total` positions: the oracle for sliceConnection. */
function reference(total: number, args: { first?: number; after?: number; last?: number; before?: number }) {
  let edges = Array.from({ length: total }, (_, i) => i);
  if (args.after !== undefined) edges = edges.filter((i) => i > args.after!);
  if (args.before !== undefined) edges = edges.filter((i) => i < args.before!);
  const cut = edges;
  const first = args.first ?? (args.last === undefined ? limits.defaultPageSize : undefined);
  if (first !== undefined) edges = edges.slice(0, first);
  if (args.last !== undefined) edges = edges.slice(Math.max(0, edges.length - args.last));
  const hasPreviousPage = args.last !== undefined ? cut.length > args.last : args.after !== undefined ? Math.min(total, args.after + 1) > 0 : false;
  const hasNextPage = first !== undefined ? cut.length > first : args.before !== undefined ? Math.min(total, args.before) < total : false;
  return { edges, hasPreviousPage, hasNextPage };
}

function refusal(run: () => unknown): { code: string; field: string | undefined } {
  try {
    run();
  } catch (err) {
    if (err instanceof RollgateError) return { code: err.code, field: err.field };
    throw err;
  }
  throw new Error('not refused');
}

describe('cursors', () => {
  it('round-trip and stay opaque (base64url, no offset in sight)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000_000 }), (offset) => {
        const cursor = at(offset);
        expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(decodeCursor(scope, cursor, 'after')).toBe(offset);
      }),
    );
  });

  it('are refused with INVALID_PARAMETER naming the argument when garbled, foreign or from another query', () => {
    const other = cursorScope('test', { ip: 'b' });
    for (const bad of ['', 'x', '!!!', 'a'.repeat(500), Buffer.from('rg1:short:1').toString('base64url'), Buffer.from(`rg1:${scope}:-1`).toString('base64url'), Buffer.from(`rg2:${scope}:1`).toString('base64url'), encodeCursor(other, 3)]) {
      expect(refusal(() => decodeCursor(scope, bad, 'before'))).toEqual({ code: 'INVALID_PARAMETER', field: 'before' });
    }
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (junk) => {
      try {
        const offset = decodeCursor(scope, junk, 'after');
        // Only a real cursor of this scope decodes.
        expect(junk).toBe(at(offset));
      } catch (err) {
        expect(err).toBeInstanceOf(RollgateError);
      }
    }));
  });
});

describe('sliceConnection', () => {
  it('matches the Relay specification algorithm for any arguments', () => {
    const offset = fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined });
    const count = fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 50 }), offset, offset, count, count, (total, after, before, first, last) => {
        const slice = sliceConnection(
          { first, last, after: after === undefined ? undefined : at(after), before: before === undefined ? undefined : at(before) },
          total,
          scope,
          limits,
        );
        const want = reference(total, { first, last, after, before });
        expect(Array.from({ length: slice.end - slice.start }, (_, i) => slice.start + i)).toEqual(want.edges);
        expect(slice.hasPreviousPage).toBe(want.hasPreviousPage);
        expect(slice.hasNextPage).toBe(want.hasNextPage);
      }),
    );
  });

  it('answers empty pages: no rows, first: 0, cursors past either end', () => {
    expect(sliceConnection({}, 0, scope, limits)).toEqual({ start: 0, end: 0, hasPreviousPage: false, hasNextPage: false });
    expect(sliceConnection({ first: 0 }, 5, scope, limits)).toEqual({ start: 0, end: 0, hasPreviousPage: false, hasNextPage: true });
    expect(sliceConnection({ first: 3, after: at(4) }, 5, scope, limits)).toMatchObject({ start: 5, end: 5, hasNextPage: false, hasPreviousPage: true });
    expect(sliceConnection({ last: 3, before: at(0) }, 5, scope, limits)).toMatchObject({ start: 0, end: 0, hasPreviousPage: false });
  });

  it('applies first, then last, when both are given', () => {
    expect(sliceConnection({ first: 6, last: 2 }, 20, scope, limits)).toEqual({ start: 4, end: 6, hasPreviousPage: true, hasNextPage: true });
  });

  it('refuses negative, fractional and oversized counts, naming the argument', () => {
    expect(refusal(() => sliceConnection({ first: -1 }, 5, scope, limits))).toEqual({ code: 'INVALID_PARAMETER', field: 'first' });
    expect(refusal(() => sliceConnection({ last: 1.5 }, 5, scope, limits))).toEqual({ code: 'INVALID_PARAMETER', field: 'last' });
    expect(refusal(() => sliceConnection({ first: 101 }, 5, scope, limits))).toEqual({ code: 'INVALID_PARAMETER', field: 'first' });
  });
});

describe('pagesCovering', () => {
  it('names at most two pages of equal size that hold exactly the range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 500 }), (start, size) => {
        const pages = pagesCovering(start, start + size)!;
        expect(pages.pageSize).toBe(size);
        expect(pages.pageNums.length).toBeLessThanOrEqual(2);
        // Rows of the pages, by position, then skipped and cut as the resolver does.
        const rows = pages.pageNums.flatMap((n) => Array.from({ length: pages.pageSize }, (_, i) => (n - 1) * pages.pageSize + i));
        expect(rows.slice(pages.skip, pages.skip + size)).toEqual(Array.from({ length: size }, (_, i) => start + i));
      }),
    );
    expect(pagesCovering(3, 3)).toBeUndefined();
  });
});
