/**
 * When to try a failed call again, and how long to wait first. Pure: the
 * client feeds it the failure and a random source.
 */
export interface RetryPolicy {
  /** Retries after the first attempt (0 turns retrying off). */
  maxRetries: number;
  /** The first backoff ceiling; it doubles with each retry. */
  baseDelayMs: number;
  /** The backoff ceiling never grows past this. */
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the error is thrown instead. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 3, baseDelayMs: 200, maxDelayMs: 5_000, maxRetryAfterMs: 60_000 };

/**
 * The wait before retry number `retry` (0 for the first retry). Without a
 * Retry-After it is "full jitter" exponential backoff: uniform in
 * [0, min(maxDelayMs, baseDelayMs·2^retry)), which spreads clients that
 * failed together. With one, the server's wait is honoured and a jitter of up
 * to baseDelayMs is added, so clients told the same second do not return in
 * the same millisecond. Undefined: do not retry.
 */
export function retryDelayMs(policy: RetryPolicy, retry: number, retryAfterMs: number | undefined, random: () => number = Math.random): number | undefined {
  if (retry >= policy.maxRetries) return undefined;
  if (retryAfterMs !== undefined) {
    if (retryAfterMs > policy.maxRetryAfterMs) return undefined;
    return retryAfterMs + Math.floor(random() * policy.baseDelayMs);
  }
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date names its weekday and month; Date.parse would also take "-1" as a year.
  const at = /[a-z]{3}/i.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
