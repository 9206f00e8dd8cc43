import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../logger.js';

/**
 * Remembers X-Ca-Nonce values for the whole timestamp window, so a captured
 * request cannot be sent again. Redis (`SET NX PX`, shared by every gateway
 * instance) when configured and reachable; a per-process cache otherwise,
 * which still stops replays against this process.
 */
export class NonceStore {
  private readonly local: LRUCache<string, true>;
  private failing = false;

  constructor(
    private readonly redis: Redis | undefined,
    private readonly keyPrefix: string,
    private readonly rememberMs: number,
    private readonly logger: Logger,
    maxLocal = 200_000,
  ) {
    this.local = new LRUCache<string, true>({ max: maxLocal, ttl: rememberMs, ttlAutopurge: false });
  }

  /** True when the nonce is new (and is now remembered); false when it was seen before. */
  async remember(appKey: string, nonce: string): Promise<boolean> {
    const key = `${appKey}\u0000${nonce}`;
    if (this.redis !== undefined && this.redis.status === 'ready') {
      try {
        const set = await this.redis.set(`${this.keyPrefix}${appKey}:${nonce}`, '1', 'PX', this.rememberMs, 'NX');
        if (this.failing) this.logger.info('nonces are shared through redis again');
        this.failing = false;
        // Also kept locally: a replay during a later Redis outage is still caught here.
        const seenLocally = this.local.has(key);
        this.local.set(key, true);
        return set === 'OK' && !seenLocally;
      } catch (err) {
        this.fail(err);
      }
    } else if (this.redis !== undefined) {
      this.fail(new Error(`redis is ${this.redis.status}`));
    }
    if (this.local.has(key)) return false;
    this.local.set(key, true);
    return true;
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
