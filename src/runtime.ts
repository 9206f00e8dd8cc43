import { Redis } from 'ioredis';
import { rollups } from '../aggregators/index.js';
import { MemoryCache, RedisCache, type Cache } from './cache/cache.js';
import { LocalRevisions, RedisRevisions, type RollupRevisions } from './cache/rollup-revisions.js';
import { LocalLiveUpdates, RedisLiveUpdates, type LiveUpdates } from './live/live-updates.js';
import { DuckDbClient, MySqlClient } from './dataservice/catalog/sql-client.js';
import { REGION_ORDER_DUCKDB_DDL, builtinDataSources } from './dataservice/builtins.js';
import { RegionOrdersStore } from './store/region-orders-store.js';
import { createDataService, type DataService } from './dataservice/data-service.js';
import type { DuckDbStore } from './store/duckdb-store.js';
import type { Config } from './config.js';
import type { DependencyCheck } from './http/health-routes.js';
import { KafkaLog } from './ingest/kafka-log.js';
import { MemoryLog } from './ingest/memory-log.js';
import type { TopicLog } from './ingest/topic-log.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import type { RollupSpec } from './core/rollup-spec.js';
import { ClickHouseStore } from './store/clickhouse-store.js';
import { MonitorCollector, WEB_EVENTS_TOPIC } from './ingest/monitor/collector.js';
import { UploadRateLimiter } from './ingest/monitor/rate-limits.js';
import { MySqlStore } from './store/mysql-store.js';
import type { RollupStore } from './store/rollup-store.js';

/**
 * The composition root: picks the real adapter for every configured service
 * and the embedded stand-in for every unset one (DESIGN.md, "Real components").
 * Everything opened here is closed by `close()`, last opened first.
 */
export class Runtime {
  private readonly closers: Array<{ name: string; close: () => Promise<void> }> = [];
  readonly checks: DependencyCheck[] = [];
  readonly metrics = new Metrics();
  private log: TopicLog | undefined;
  private readonly stores = new Map<string, Promise<RollupStore>>();
  private cache: Cache | undefined;
  private revisions: RollupRevisions | undefined;
  private live: LiveUpdates | undefined;
  private dataService: Promise<DataService> | undefined;
  private authRedis: Redis | undefined;

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
      mysql: c.mysql === undefined ? 'embedded DuckDB stands in' : 'configured',
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

  /** The store a rollup's sink names, or the shared embedded DuckDB when that service is not configured. */
  storeFor(spec: RollupSpec): Promise<RollupStore> {
    return this.store(spec.sink.store);
  }

  private store(kind: 'clickhouse' | 'mysql'): Promise<RollupStore> {
    const configured = kind === 'clickhouse' ? this.config.clickhouse !== undefined : this.config.mysql !== undefined;
    const name = configured ? kind : 'duckdb';
    let opening = this.stores.get(name);
    if (opening === undefined) {
      opening = this.openStore(name);
      this.stores.set(name, opening);
    }
    return opening;
  }

  private async openStore(name: 'clickhouse' | 'mysql' | 'duckdb'): Promise<RollupStore> {
    let store: RollupStore;
    if (name === 'clickhouse' && this.config.clickhouse !== undefined) {
      store = new ClickHouseStore(this.config.clickhouse);
    } else if (name === 'mysql' && this.config.mysql !== undefined) {
      store = new MySqlStore({ url: this.config.mysql.url });
    } else {
      // Loaded only when embedded: DuckDB is a native module that real deployments never need.
      store = await (await import('./store/duckdb-store.js')).DuckDbStore.open(this.config.duckdb.path, this.config.duckdb);
    }
    this.track(name, () => store.close());
    this.checks.push({ name: store.kind, check: () => store.ping() });
    return store;
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
      // Without the shared cache the gateway reads the stores: slower, still correct.
      this.checks.push({ name: cache.kind, check: () => cache.ping(), optional: true });
    }
    return this.cache;
  }

  /**
   * The Redis client for nonces and rate limits, or undefined when embedded. It fails fast while
   * Redis is away (no offline queue), so auth falls back to per-process state instead of waiting.
   */
  async getAuthRedis(): Promise<Redis | undefined> {
    if (this.config.redis === undefined) return undefined;
    if (this.authRedis === undefined) {
      const redis = new Redis(this.config.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 });
      redis.on('error', (err: Error) => this.logger.warn({ err: { message: err.message } }, 'auth redis connection error'));
      this.authRedis = redis;
      this.track('auth redis', async () => redis.disconnect());
      await redis.connect().catch((err: unknown) => this.logger.warn({ err: { message: String(err) } }, 'redis unreachable at start: nonces and rate limits are per process'));
    }
    return this.authRedis;
  }

  /** How aggregators announce writes and gateways re-key cached results: Redis pub/sub, or in-process. */
  getRevisions(): RollupRevisions {
    if (this.revisions === undefined) {
      const revisions =
        this.config.redis === undefined ? new LocalRevisions() : new RedisRevisions(this.config.redis.url, this.logger.child({ component: 'revisions' }));
      this.revisions = revisions;
      this.track('revisions', () => revisions.close());
    }
    return this.revisions;
  }

  /** Live updates for GraphQL subscriptions: aggregators publish, gateways subscribe; Redis pub/sub, or in-process. */
  getLiveUpdates(): LiveUpdates {
    if (this.live === undefined) {
      const live =
        this.config.redis === undefined
          ? new LocalLiveUpdates()
          : new RedisLiveUpdates(this.config.redis.url, this.config.topicPrefix, this.logger.child({ component: 'live-updates' }));
      this.live = live;
      this.track('live updates', () => live.close());
    }
    return this.live;
  }

  /** The DataService layer, its catalog in MySQL when configured, else in the embedded DuckDB. */
  getDataService(): Promise<DataService> {
    this.dataService ??= (async () => {
      const catalog = this.config.mysql === undefined ? await DuckDbClient.open((await this.embeddedStore()).database) : await MySqlClient.open(this.config.mysql.url);
      this.track('catalog', () => catalog.close());
      const service = await createDataService({
        config: this.config,
        logger: this.logger,
        metrics: this.metrics,
        catalog,
        sharedCache: await this.getCache(),
        revisions: this.getRevisions(),
        builtinSources: builtinDataSources(this.config, async () => (await this.embeddedStore()).database),
        rollups,
      });
      this.track('dataservice', () => service.close());
      return service;
    })();
    return this.dataService;
  }

  /**
   * The region-orders result tables, so their built-in APIs answer (empty)
   * before the aggregator first runs: in MySQL when configured, else in the
   * embedded DuckDB the gateway reads.
   */
  async ensureRegionOrderTables(): Promise<void> {
    if (this.config.mysql !== undefined) {
      const store = new RegionOrdersStore(this.config.mysql.url);
      try {
        await store.ensureTables();
      } finally {
        await store.close();
      }
      return;
    }
    const conn = await (await this.embeddedStore()).database.connect();
    try {
      for (const ddl of REGION_ORDER_DUCKDB_DDL) await conn.run(ddl);
    } finally {
      conn.closeSync();
    }
  }

  /** The embedded DuckDB the gateway's built-in APIs read when a store is not configured. */
  async embeddedDuckDb(): Promise<DuckDbStore['database']> {
    return (await this.embeddedStore()).database;
  }

  /** The /monitor/upload collector: its own idempotent producer to `web_events` and its rate limits. */
  getMonitorCollector(): MonitorCollector {
    const topic = this.config.topicPrefix + WEB_EVENTS_TOPIC;
    const { monitor } = this.config;
    const collector = new MonitorCollector({
      // Opened on the first upload: the gateway does not need Kafka to start.
      producer: async () => {
        const log = this.getLog();
        await log.ensureTopic(topic, 3);
        return log.producer();
      },
      topic,
      limiter: new UploadRateLimiter(
        { perIpPerMinute: monitor.ratePerIpPerMinute, perAppPerMinute: monitor.ratePerAppPerMinute },
        { ...(this.config.redis === undefined ? {} : { redisUrl: this.config.redis.url }), keyPrefix: `rollgate:${this.config.topicPrefix}monitor:`, logger: this.logger },
      ),
      origins: monitor.origins,
      ackTimeoutMs: monitor.ackTimeoutMs,
      logger: this.logger.child({ component: 'monitor' }),
    });
    this.track('monitor', () => collector.close());
    return collector;
  }

  private async embeddedStore(): Promise<DuckDbStore> {
    let opening = this.stores.get('duckdb');
    if (opening === undefined) {
      opening = this.openStore('duckdb');
      this.stores.set('duckdb', opening);
    }
    return (await opening) as DuckDbStore;
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
