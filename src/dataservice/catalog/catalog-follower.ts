import type { Logger } from '../../logger.js';
import type { CatalogStore } from './catalog-store.js';

const POLL_EVERY_MS = 2000;

/**
 * Keeps an in-memory view of part of the catalog (the route table, the apps)
 * current. It loads at start, then polls the catalog's one revision number and
 * reloads when it moved: that is how other gateway instances' writes arrive,
 * within POLL_EVERY_MS. After this instance's own write, `refresh(true)`
 * reloads at once. Concurrent refreshes wait for the one under way.
 */
export class CatalogFollower {
  private seen = -1;
  private refreshing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** Anything with one revision number that every write bumps: the catalog, the flow store. */
    private readonly catalog: Pick<CatalogStore, 'revision'>,
    /** Rebuilds the view; `moved` is false when a forced reload finds the revision unchanged. */
    private readonly load: (moved: boolean) => Promise<void>,
    private readonly logger: Logger,
    private readonly what: string,
  ) {}

  /** The catalog revision the view reflects. */
  get revision(): number {
    return this.seen;
  }

  async start(): Promise<void> {
    await this.refresh(true);
    this.timer = setInterval(() => {
      this.refresh(false).catch((err: unknown) => this.logger.warn({ err }, `reading ${this.what} from the catalog failed; keeping the last known`));
    }, POLL_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  async refresh(force: boolean): Promise<void> {
    if (this.refreshing !== undefined) {
      await this.refreshing;
      if (!force) return;
    }
    this.refreshing = (async () => {
      const revision = await this.catalog.revision();
      if (!force && revision === this.seen) return;
      await this.load(revision !== this.seen);
      this.seen = revision;
    })();
    try {
      await this.refreshing;
    } finally {
      this.refreshing = undefined;
    }
  }
}
