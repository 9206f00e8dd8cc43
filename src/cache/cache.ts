import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { dependencyUnavailable } from '../errors.js';
import type { Logger } from '../logger.js';

/** A string cache with per-entry TTL; Redis when configured, an in-process LRU otherwise. */
export interface Cache {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class MemoryCache implements Cache {
  readonly kind = 'memory' as const;
  private readonly lru = new LRUCache<string, string>({ max: 10_000, ttlAutopurge: false });

  async get(key: string): Promise<string | undefined> {
    return this.lru.get(key);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.lru.set(key, value, { ttl: ttlMs });
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.lru.clear();
  }
}

export class RedisCache implements Cache {
  readonly kind = 'redis' as const;
  private readonly redis: Redis;

  constructor(
    url: string,
    private readonly keyPrefix: string,
    private readonly logger: Logger,
  ) {
    // Fail fast instead of queueing: a cache that is down must not stall requests.
    this.redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 });
    this.redis.on('error', (err: Error) => this.logger.warn({ err: { message: err.message } }, 'redis connection error'));
  }

  async connect(): Promise<void> {
    try {
      await this.redis.connect();
    } catch (err) {
      throw dependencyUnavailable('redis', err);
    }
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(this.keyPrefix + key)) ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.keyPrefix + key, value, 'PX', ttlMs);
  }

  async ping(): Promise<void> {
    try {
      await this.redis.ping();
    } catch (err) {
      throw dependencyUnavailable('redis', err);
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
