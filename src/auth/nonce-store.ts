import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { RollgateError } from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * Remembers X-Ca-Nonce values for the whole timestamp window, so a captured
 * request cannot be sent again. Redis (`SET NX PX`, shared by every gateway
 * instance) when configured and reachable; a per-process cache otherwise,
 * which still stops replays against this process.
 */
export class NonceStore {
  /**
   * One partition per app, so one app's flood of nonces can never push out another app's: the window a replay
   * is caught in must hold for every app whatever the others do.
   */
  private readonly local = new Map<string, LRUCache<string, true>>();
  private failing = false;

  constructor(
    private readonly redis: Redis | undefined,
    private readonly keyPrefix: string,
    private readonly rememberMs: number,
    private readonly logger: Logger,
    private readonly maxPerApp = 100_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * True when the nonce is new (and is now remembered); false when it was seen before. Throws RATE_LIMITED when
   * this process already holds maxPerApp unexpired nonces of the app: forgetting one would open it to replay.
   */
  async remember(appKey: string, nonce: string): Promise<boolean> {
    const local = this.partition(appKey);
    if (this.redis !== undefined && this.redis.status === 'ready') {
      try {
        const set = await this.redis.set(`${this.keyPrefix}${appKey}:${nonce}`, '1', 'PX', this.rememberMs, 'NX');
        if (this.failing) this.logger.info('nonces are shared through redis again');
        this.failing = false;
        // Also kept locally: a replay during a later Redis outage is still caught here.
        const seenLocally = local.has(nonce);
        // Best effort here: Redis is the one that must not forget.
        if (!seenLocally) this.keep(local, nonce, false);
        return set === 'OK' && !seenLocally;
      } catch (err) {
        this.fail(err);
      }
    } else if (this.redis !== undefined) {
      this.fail(new Error(`redis is ${this.redis.status}`));
    }
    if (local.has(nonce)) return false;
    this.keep(local, nonce, true);
    return true;
  }

  private partition(appKey: string): LRUCache<string, true> {
    let cache = this.local.get(appKey);
    if (cache === undefined) {
      cache = new LRUCache<string, true>({ max: this.maxPerApp, ttl: this.rememberMs, ttlAutopurge: false, ttlResolution: 0, perf: { now: this.now } });
      this.local.set(appKey, cache);
    }
    return cache;
  }

  private keep(cache: LRUCache<string, true>, nonce: string, required: boolean): void {
    if (cache.size >= this.maxPerApp) cache.purgeStale();
    if (cache.size >= this.maxPerApp) {
      if (!required) return;
      throw new RollgateError('RATE_LIMITED', `too many signed calls within ${Math.round(this.rememberMs / 60_000)} minutes for this process to remember their nonces`, {
        retryAfterSeconds: 60,
        headerMessage: 'Too Many Nonces',
      });
    }
    cache.set(nonce, true);
  }

  /** Redis is configured but nonces are only per-process right now. */
  get degraded(): boolean {
    return this.redis !== undefined && this.redis.status !== 'ready';
  }

  private fail(err: unknown): void {
    if (!this.failing) this.logger.warn({ err: { message: err instanceof Error ? err.message : String(err) } }, 'redis unavailable: nonces are remembered per process');
    this.failing = true;
  }
}
