import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { RollgateError } from '../../errors.js';
import type { Logger } from '../../logger.js';

/** A 429 that says which limit and when to come back. */
export class RateLimitedError extends RollgateError {
  constructor(
    readonly limit: 'ip' | 'app',
    retryAfterSeconds: number,
  ) {
    super('RATE_LIMITED', `too many events from this ${limit === 'ip' ? 'client address' : 'appId'}; retry after ${retryAfterSeconds} s`, {
      retriable: true,
      retryAfterSeconds,
      field: limit === 'ip' ? undefined : 'appId',
    });
  }
}

export interface UploadRateLimits {
  /** Events per minute from one client IP, and to one appId. */
  perIpPerMinute: number;
  perAppPerMinute: number;
}

/**
 * Token buckets per client IP and per appId, shared by every gateway through
 * Redis (rate-limiter-flexible). When Redis is unreachable each gateway falls
 * back to an in-memory limiter with the same limits (its "insurance"), so an
 * outage neither blocks uploads nor lifts the limits.
 */
export class UploadRateLimiter {
  private readonly perIp: RateLimiterAbstract;
  private readonly perApp: RateLimiterAbstract;
  private readonly redis: Redis | undefined;

  constructor(limits: UploadRateLimits, options: { redisUrl?: string; keyPrefix: string; logger: Logger }) {
    const make = (name: string, points: number): RateLimiterAbstract => {
      const base = { keyPrefix: `${options.keyPrefix}${name}`, points, duration: 60 };
      if (this.redis === undefined) return new RateLimiterMemory(base);
      return new RateLimiterRedis({ ...base, storeClient: this.redis, insuranceLimiter: new RateLimiterMemory(base) });
    };
    if (options.redisUrl !== undefined) {
      // No offline queue: while Redis is down a command fails at once and the insurance limiter answers.
      this.redis = new Redis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 });
      this.redis.on('error', (err: Error) => options.logger.debug({ err: { message: err.message } }, 'rate limit redis unreachable; in-memory limits apply'));
    }
    this.perIp = make('ip:', limits.perIpPerMinute);
    this.perApp = make('app:', limits.perAppPerMinute);
  }

  /** Takes `events` from both buckets or throws RateLimitedError. */
  async consume(clientIp: string, appIds: readonly string[], events: number): Promise<void> {
    await take(this.perIp, clientIp, events, 'ip');
    const perApp = new Map<string, number>();
    for (const appId of appIds) perApp.set(appId, (perApp.get(appId) ?? 0) + 1);
    for (const [appId, n] of perApp) await take(this.perApp, appId, n, 'app');
  }

  async close(): Promise<void> {
    this.redis?.disconnect();
  }
}

async function take(limiter: RateLimiterAbstract, key: string, points: number, limit: 'ip' | 'app'): Promise<void> {
  try {
    await limiter.consume(key, points);
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) throw new RateLimitedError(limit, Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
    throw rejection;
  }
}
