import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

/**
 * Where automatic persisted queries are kept when Redis is configured: every
 * gateway instance then knows a hash any of them registered. Redis failing
 * costs one round trip, never a request: a miss makes the client send the
 * query again (the APQ protocol), and a failed write is only logged.
 * The shape is Apollo's KeyValueCache.
 */
export class RedisApqCache {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.redis.get(this.prefix + key)) ?? undefined;
    } catch (err) {
      this.logger.warn({ err: { message: String(err) } }, 'persisted query lookup failed; asking the client for the query');
      return undefined;
    }
  }

  async set(key: string, value: string, options?: { ttl?: number | null }): Promise<void> {
    try {
      const ttl = options?.ttl;
      if (typeof ttl === 'number' && ttl > 0) await this.redis.set(this.prefix + key, value, 'EX', Math.ceil(ttl));
      else await this.redis.set(this.prefix + key, value);
    } catch (err) {
      this.logger.warn({ err: { message: String(err) } }, 'persisted query not stored');
    }
  }

  async delete(key: string): Promise<boolean> {
    try {
      return (await this.redis.del(this.prefix + key)) > 0;
    } catch {
      return false;
    }
  }
}
