import type { Logger } from '../logger.js';

/** The regions of seed 002's order generator (its Airflow DAG's `cities`). */
export const CITIES: readonly string[] = [
  '北京', '上海', '广州', '深圳', '成都', '杭州', '重庆', '武汉', '西安', '苏州', '天津', '南京', '郑州',
  '长沙', '东莞', '青岛', '宁波', '沈阳', '昆明', '合肥', '大连', '厦门', '哈尔滨', '福州', '济南', '温州',
  '佛山', '南昌', '长春', '贵阳', '南宁', '金华', '石家庄', '常州', '泉州', '南通', '太原', '徐州', '嘉兴',
  '乌鲁木齐', '惠州', '珠海', '扬州', '兰州', '烟台', '汕头', '潍坊', '保定', '海口',
];

/** One order as seed 002's Airflow DAG inserts it: amount and customer uniform in 1..100, region from its city list. */
export interface NewOrder {
  order_revenue: number;
  order_region: string;
  customer_id: number;
}

/** Python's random.randint(1, 100) and random.choice(cities), from a seeded PRNG. */
export function randomOrder(random: () => number): NewOrder {
  return {
    order_revenue: 1 + Math.floor(random() * 100),
    order_region: CITIES[Math.floor(random() * CITIES.length)] ?? CITIES[0]!,
    customer_id: 1 + Math.floor(random() * 100),
  };
}

/** Where generated orders go: MySQL in practice, a list in unit tests. */
export interface OrderSink {
  insertOrders(orders: readonly NewOrder[]): Promise<void>;
}

export interface OrdersGeneratorOptions {
  /** Orders per second (may be fractional: 1/60 is the seed's one a minute). */
  ratePerSecond: number;
  random: () => number;
  /** Stop after this many orders; unbounded when absent. */
  maxOrders?: number;
}

const MAX_TICK_MS = 1000;
const MIN_TICK_MS = 50;
const MAX_ORDERS_PER_INSERT = 1000;

/**
 * Inserts random orders at a steady rate until stopped, like seed 002's
 * Airflow DAG but without a scheduler. Each tick inserts the orders that
 * fell due since the last one in one statement, so the rate holds at
 * thousands per second; a failed insert is logged and retried on the next
 * tick, with its orders still due.
 */
export class OrdersGenerator {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private startedAt = 0;
  private finish: () => void = () => undefined;
  private pending: NewOrder[] = [];
  inserted = 0;
  /** Resolves when maxOrders have been inserted (never, without a maximum) or the generator stops. */
  readonly done: Promise<void>;

  constructor(
    private readonly sink: OrderSink,
    private readonly options: OrdersGeneratorOptions,
    private readonly logger: Logger,
  ) {
    if (!(options.ratePerSecond > 0)) throw new RangeError('ratePerSecond must be positive');
    this.done = new Promise((resolve) => (this.finish = resolve));
  }

  start(now = Date.now()): void {
    this.startedAt = now;
    const tickMs = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, 1000 / this.options.ratePerSecond));
    this.timer = setInterval(() => {
      this.inFlight = this.inFlight.then(() => this.tick(Date.now()));
    }, tickMs);
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
    this.finish();
  }

  /** Inserts what is due at `now`; exposed so tests can drive time. */
  async tick(now: number): Promise<void> {
    const limit = this.options.maxOrders ?? Number.POSITIVE_INFINITY;
    const due = Math.min(limit, Math.floor(((now - this.startedAt) / 1000) * this.options.ratePerSecond) + 1);
    while (this.inserted + this.pending.length < due && this.pending.length < MAX_ORDERS_PER_INSERT) {
      this.pending.push(randomOrder(this.options.random));
    }
    if (this.pending.length > 0) {
      try {
        await this.sink.insertOrders(this.pending);
        this.inserted += this.pending.length;
        this.pending = [];
      } catch (err) {
        this.logger.warn({ err: { message: err instanceof Error ? err.message : String(err) }, due: this.pending.length }, 'inserting orders failed; retrying on the next tick');
        return;
      }
    }
    if (this.inserted >= limit) {
      if (this.timer !== undefined) clearInterval(this.timer);
      this.timer = undefined;
      this.finish();
    }
  }
}
