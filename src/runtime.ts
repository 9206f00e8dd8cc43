import mysql from 'mysql2/promise';
import { MemoryCache, RedisCache, type Cache } from './cache/cache.js';
import type { Config } from './config.js';
import { dependencyUnavailable } from './errors.js';
import type { DependencyCheck } from './http/health-routes.js';
import { KafkaLog } from './ingest/kafka-log.js';
import { MemoryLog } from './ingest/memory-log.js';
import type { TopicLog } from './ingest/topic-log.js';
import type { Logger } from './logger.js';
import { ClickHouseStore } from './store/clickhouse-store.js';
import type { RollupStore } from './store/rollup-store.js';

/**
 * The composition root: picks the real adapter for every configured service
 * and the embedded stand-in for every unset one (DESIGN.md, "Real components").
 * Everything opened here is closed by `close()`, last opened first.
 */
export class Runtime {
  private readonly closers: Array<{ name: string; close: () => Promise<void> }> = [];
  readonly checks: DependencyCheck[] = [];
  private log: TopicLog | undefined;
  private store: RollupStore | undefined;
  private cache: Cache | undefined;

  constructor(
    readonly config: Config,
    readonly logger: Logger,
  ) {}

  /** What each dependency resolves to, for the start-up banner and logs. */
  describe(): Record<string, string> {
    const c = this.config;
    return {
      log: c.kafka === undefined ? 'embedded in-process log' : `kafka ${c.kafka.brokers.join(',')}`,
      store: c.clickhouse === undefined ? `embedded DuckDB (${c.duckdb.path})` : `clickhouse database ${c.clickhouse.database}`,
      cache: c.redis === undefined ? 'embedded in-memory LRU' : 'redis',
      mysql: c.mysql === undefined ? 'not configured' : 'configured',
    };
  }

  getLog(): TopicLog {
    if (this.log === undefined) {
      const log = this.config.kafka === undefined ? new MemoryLog() : new KafkaLog(this.config.kafka, this.logger);
      this.log = log;
      this.track('log', () => log.close());
      this.checks.push({ name: log.kind, check: () => log.ping() });
    }
    return this.log;
  }

  async getStore(): Promise<RollupStore> {
    if (this.store === undefined) {
      const store =
        this.config.clickhouse === undefined
          ? // Loaded only when embedded: DuckDB is a native module that real deployments never need.
            await (await import('./store/duckdb-store.js')).DuckDbStore.open(this.config.duckdb.path)
          : new ClickHouseStore(this.config.clickhouse);
      this.store = store;
      this.track('store', () => store.close());
      this.checks.push({ name: store.kind, check: () => store.ping() });
    }
    return this.store;
  }

  async getCache(): Promise<Cache> {
    if (this.cache === undefined) {
      let cache: Cache;
      if (this.config.redis === undefined) {
        cache = new MemoryCache();
      } else {
        const redis = new RedisCache(this.config.redis.url, 'rollgate:', this.logger.child({ component: 'redis' }));
        // Start even if Redis is down: reads fall through to the store and /readyz says why.
        await redis.connect().catch((err: unknown) => this.logger.warn({ err: { message: String(err) } }, 'redis unreachable at start'));
        cache = redis;
      }
      this.cache = cache;
      this.track('cache', () => cache.close());
      this.checks.push({ name: cache.kind, check: () => cache.ping() });
    }
    return this.cache;
  }

  /** MySQL is checked for readiness when configured; later issues read and write it. */
  watchMySql(): void {
    if (this.config.mysql === undefined) return;
    const pool = mysql.createPool({ uri: this.config.mysql.url, connectionLimit: 1, connectTimeout: 2000 });
    this.track('mysql', () => pool.end());
    this.checks.push({
      name: 'mysql',
      check: async () => {
        try {
          await pool.query('SELECT 1');
        } catch (err) {
          throw dependencyUnavailable('mysql', err);
        }
      },
    });
  }

  track(name: string, close: () => Promise<void>): void {
    this.closers.push({ name, close });
  }

  async close(): Promise<void> {
    for (const { name, close } of this.closers.reverse()) {
      try {
        await close();
      } catch (err) {
        this.logger.warn({ err, resource: name }, 'close failed');
      }
    }
    this.closers.length = 0;
  }
}
