import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, parseRetryAfter, retryDelayMs } from '../../../sdk/src/retry.js';
import { isRetriableStatus } from '../../../sdk/src/errors.js';

describe('retry policy', () => {
  it('backs off exponentially with full jitter, capped at maxDelayMs', () => {
    const policy = { ...DEFAULT_RETRY, maxRetries: 10, baseDelayMs: 100, maxDelayMs: 1_000 };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (retry, r) => {
        const delay = retryDelayMs(policy, retry, undefined, () => r);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(Math.min(1_000, 100 * 2 ** retry));
      }),
    );
    expect(retryDelayMs(policy, 3, undefined, () => 0.999_999)).toBe(799);
  });

  it('waits at least Retry-After, plus a jitter under baseDelayMs', () => {
    expect(retryDelayMs(DEFAULT_RETRY, 0, 2_000, () => 0)).toBe(2_000);
    expect(retryDelayMs(DEFAULT_RETRY, 2, 2_000, () => 0.5)).toBe(2_000 + DEFAULT_RETRY.baseDelayMs / 2);
  });

  it('gives up after maxRetries, and on a Retry-After beyond maxRetryAfterMs', () => {
    expect(retryDelayMs({ ...DEFAULT_RETRY, maxRetries: 2 }, 2, undefined)).toBeUndefined();
    expect(retryDelayMs({ ...DEFAULT_RETRY, maxRetries: 0 }, 0, 1_000)).toBeUndefined();
    expect(retryDelayMs({ ...DEFAULT_RETRY, maxRetryAfterMs: 5_000 }, 0, 6_000)).toBeUndefined();
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3_000);
    expect(parseRetryAfter(' 0 ')).toBe(0);
    const now = Date.UTC(2026, 10, 24, 12, 0, 0);
    expect(parseRetryAfter('Tue, 24 Nov 2026 12:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Tue, 24 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter('-1')).toBeUndefined();
  });

  it('retries 429, 502, 503 and 504 only: never another 4xx, nor 500', () => {
    expect([429, 502, 503, 504].every(isRetriableStatus)).toBe(true);
    expect([400, 401, 403, 404, 405, 409, 413, 500, 501].some(isRetriableStatus)).toBe(false);
  });
});
