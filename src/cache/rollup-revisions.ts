import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

/**
 * A number per rollup table that moves whenever an aggregator writes to it.
 * Cached API results put the numbers of the tables they read into their keys,
 * so a write re-keys them: a cached page can never hide a newly written
 * window, and nothing has to be deleted. Aggregators announce writes; gateways
 * follow. With Redis the number is a Redis counter announced over pub/sub, so
 * every process agrees on it; embedded, it lives in the one process.
 */
export interface RollupRevisions {
  /** Called by an aggregator after its store accepted a write to `table`. */
  advanced(table: string): Promise<void>;
  /**
   * The current number of each table, or undefined when it cannot be known
   * now (subscription down): the caller must then not use the cache.
   */
  current(tables: readonly string[]): Promise<string[] | undefined>;
  close(): Promise<void>;
}

export class LocalRevisions implements RollupRevisions {
  private readonly revs = new Map<string, number>();
  readonly events = new EventEmitter();

  async advanced(table: string): Promise<void> {
    this.revs.set(table, (this.revs.get(table) ?? 0) + 1);
    this.events.emit('advanced', table);
  }

  async current(tables: readonly string[]): Promise<string[]> {
    return tables.map((t) => String(this.revs.get(t) ?? 0));
  }

  async close(): Promise<void> {}
}

const CHANNEL = 'rollgate:rollup-advanced';
const key = (table: string) => `rollgate:rev:${table}`;

export class RedisRevisions implements RollupRevisions {
  private readonly commands: Redis;
  private subscriber: Redis | undefined;
  private live = false;
  private readonly known = new Map<string, string>();

  constructor(
    url: string,
    private readonly logger: Logger,
  ) {
    this.commands = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 });
    this.commands.on('error', (err: Error) => this.logger.warn({ err: { message: err.message } }, 'redis (revisions) error'));
  }

  async advanced(table: string): Promise<void> {
    await this.ensureConnected(this.commands);
    const rev = await this.commands.incr(key(table));
    await this.commands.publish(CHANNEL, JSON.stringify({ table, rev: String(rev) }));
  }

  async current(tables: readonly string[]): Promise<string[] | undefined> {
    this.follow();
    if (!this.live) return undefined;
    const missing = tables.filter((t) => !this.known.has(t));
    if (missing.length > 0) {
      try {
        await this.ensureConnected(this.commands);
        const values = await this.commands.mget(missing.map(key));
        // A message may have raced the read: keep whichever is newer.
        missing.forEach((t, i) => this.remember(t, values[i] ?? '0'));
      } catch {
        return undefined;
      }
    }
    return tables.map((t) => this.known.get(t) ?? '0');
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect();
    this.commands.disconnect();
  }

  /** Subscribes on first use; while the subscription is down nothing is known, so callers bypass the cache. */
  private follow(): void {
    if (this.subscriber !== undefined) return;
    const sub = this.commands.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, lazyConnect: false });
    this.subscriber = sub;
    sub.on('error', (err: Error) => this.logger.warn({ err: { message: err.message } }, 'redis (revision subscription) error'));
    sub.on('ready', () => {
      sub.subscribe(CHANNEL).then(
        () => {
          // Messages may have been missed while down: forget everything and re-read on demand.
          this.known.clear();
          this.live = true;
        },
        (err: unknown) => this.logger.warn({ err }, 'revision subscription failed'),
      );
    });
    sub.on('close', () => {
      this.live = false;
      this.known.clear();
    });
    sub.on('message', (_channel: string, message: string) => {
      try {
        const { table, rev } = JSON.parse(message) as { table: string; rev: string };
        this.remember(table, rev);
      } catch {
        this.logger.warn('ignored a malformed revision message');
      }
    });
  }

  private remember(table: string, rev: string): void {
    const before = this.known.get(table);
    if (before === undefined || BigInt(rev) > BigInt(before)) this.known.set(table, rev);
  }

  private async ensureConnected(redis: Redis): Promise<void> {
    if (redis.status === 'wait') await redis.connect();
  }
}
