import type { Redis } from 'ioredis';
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { LRUCache } from 'lru-cache';
import { RollgateError } from '../errors.js';

export interface RateLimit {
  /** Sustained requests per second. */
  rps: number;
  /** Extra requests allowed above `rps` in a short spike. */
  burst: number;
}

/**
 * Per-app rate limits with rate-limiter-flexible: `rps` per second, plus a
 * burst bucket of `burst` requests refilled over `burst / rps` seconds.
 * Counters live in Redis (shared by every gateway instance); when Redis is
 * unreachable each limiter's insurance limiter counts per process instead.
 */
export class AppRateLimiter {
  private readonly limiters = new Map<string, BurstyRateLimiter>();

  constructor(
    private readonly redis: Redis | undefined,
    private readonly keyPrefix: string,
  ) {}

  /** Counts one call of `appKey`; throws RATE_LIMITED (with retryAfterSeconds) when over the limit. */
  async consume(appKey: string, limit: RateLimit): Promise<void> {
    try {
      await this.limiter(limit).consume(appKey, 1);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        const retryAfterSeconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        throw new RollgateError('RATE_LIMITED', `rate limit of ${limit.rps} requests per second (burst ${limit.burst}) exceeded`, {
          retryAfterSeconds,
        });
      }
      // Neither Redis nor the insurance limiter answered: serving beats refusing.
    }
  }

  get degraded(): boolean {
    return this.redis !== undefined && this.redis.status !== 'ready';
  }

  private limiter(limit: RateLimit): BurstyRateLimiter {
    const id = `${limit.rps}:${limit.burst}`;
    let limiter = this.limiters.get(id);
    if (limiter === undefined) {
      const burstSeconds = Math.max(1, Math.ceil(limit.burst / limit.rps));
      limiter = new BurstyRateLimiter(
        this.one(`${this.keyPrefix}${id}:s:`, limit.rps, 1),
        this.one(`${this.keyPrefix}${id}:b:`, Math.max(limit.burst, 1), burstSeconds),
      );
      this.limiters.set(id, limiter);
    }
    return limiter;
  }

  private one(keyPrefix: string, points: number, duration: number): RateLimiterRedis | RateLimiterMemory {
    const memory = new RateLimiterMemory({ keyPrefix, points, duration });
    if (this.redis === undefined) return memory;
    return new RateLimiterRedis({ storeClient: this.redis, keyPrefix, points, duration, rejectIfRedisNotReady: true, insuranceLimiter: memory });
  }
}

/**
 * Failed AppCodes (and DataFlow app secrets) per client address: beyond `perMinute` in a minute, that
 * address's next attempts are refused before they are even looked at, so codes cannot be guessed at the speed
 * of the network. Failures are counted in Redis, shared by every gateway; whether an address is blocked is
 * remembered in the process, so a good call costs no extra round trip (another instance learns of a block at
 * the address's first failure there).
 */
export class FailureThrottle {
  private readonly limiter: RateLimiterRedis | RateLimiterMemory;
  private readonly blocked = new LRUCache<string, number>({ max: 100_000 });

  constructor(
    redis: Redis | undefined,
    keyPrefix: string,
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    const memory = new RateLimiterMemory({ keyPrefix, points: perMinute, duration: 60 });
    this.limiter =
      redis === undefined ? memory : new RateLimiterRedis({ storeClient: redis, keyPrefix, points: perMinute, duration: 60, rejectIfRedisNotReady: true, insuranceLimiter: memory });
  }

  /** Throws RATE_LIMITED while `client` has used up its failures for the minute. */
  check(client: string): void {
    const until = this.blocked.get(client);
    if (until === undefined) return;
    const waitMs = until - this.now();
    if (waitMs <= 0) {
      this.blocked.delete(client);
      return;
    }
    throw new RollgateError('RATE_LIMITED', `too many wrong AppCodes or app secrets from ${client}: wait a minute`, {
      retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
      headerMessage: 'Too Many Failed Attempts',
    });
  }

  /** Counts one failure of `client`, and blocks it here once it has used up the minute's. */
  async failed(client: string): Promise<void> {
    const state = await this.limiter.penalty(client, 1).catch(() => undefined);
    if (state !== undefined && state.consumedPoints >= this.perMinute) this.blocked.set(client, this.now() + state.msBeforeNext);
  }
}
