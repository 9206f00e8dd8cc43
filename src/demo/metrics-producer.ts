import type { Logger } from '../logger.js';
import type { LogProducer, OutgoingMessage } from '../ingest/topic-log.js';

export interface DemoMetricsOptions {
  topic: string;
  series: number;
  backfillMs: number;
  intervalMs: number;
  /** Fixes the hosts, pids and values for reproducible runs. */
  seed: number;
}

interface Series {
  ip: string;
  pid: number;
  cpu: number;
  memPct: number;
  memTotal: number;
}

/** A small deterministic PRNG (mulberry32): demo data (and test data) is reproducible from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Process metrics shaped like seed 000's `system_proc`: a random walk per
 * (ip, pid). It backfills history first so closed windows exist at once,
 * then samples every series live on a timer.
 */
export class DemoMetricsProducer {
  private readonly random: () => number;
  private readonly series: Series[];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  produced = 0;

  constructor(
    private readonly producer: LogProducer,
    private readonly options: DemoMetricsOptions,
    private readonly logger: Logger,
  ) {
    this.random = seededRandom(options.seed);
    // Five processes per host; pids are distinct within a host.
    this.series = Array.from({ length: options.series }, (_, i) => {
      const host = Math.floor(i / 5);
      return {
        ip: `10.0.${Math.floor(host / 250)}.${(host % 250) + 1}`,
        pid: 1000 + (i % 5) * 1000 + Math.floor(this.random() * 1000),
        cpu: this.random() * 40,
        memPct: 1 + this.random() * 20,
        memTotal: 8 * 1024 ** 3 * 2 ** (host % 3),
      };
    });
  }

  /** Events the backfill sends before live sampling starts. */
  backfillEvents(): number {
    return (Math.floor(this.options.backfillMs / this.options.intervalMs) + 1) * this.series.length;
  }

  /** Sends the backfill (reporting events sent so far after each batch), then keeps sampling until stop(). */
  async start(now = Date.now(), onBackfill: (sent: number) => void = () => undefined): Promise<void> {
    const { backfillMs, intervalMs } = this.options;
    let batch: OutgoingMessage[] = [];
    for (let t = now - backfillMs; t <= now; t += intervalMs) {
      for (const s of this.series) batch.push(this.sample(s, t));
      if (batch.length >= 5000) {
        await this.producer.send(this.options.topic, batch);
        this.produced += batch.length;
        onBackfill(this.produced);
        batch = [];
      }
    }
    if (batch.length > 0) {
      await this.producer.send(this.options.topic, batch);
      this.produced += batch.length;
      onBackfill(this.produced);
    }
    this.logger.info({ events: this.produced, series: this.series.length, topic: this.options.topic }, 'demo backfill sent');
    this.timer = setInterval(() => {
      this.sending = this.sending
        .then(async () => {
          const at = Date.now();
          const live = this.series.map((s) => this.sample(s, at));
          await this.producer.send(this.options.topic, live);
          this.produced += live.length;
        })
        .catch((err: unknown) => this.logger.warn({ err }, 'demo send failed; will retry on the next tick'));
    }, intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.sending;
  }

  private sample(s: Series, timestamp: number): OutgoingMessage {
    // Mean-reverting walks keep the demo lively without drifting to the bounds.
    s.cpu = clamp(s.cpu + (this.random() - 0.5) * 10 + (25 - s.cpu) * 0.05, 0, 400);
    s.memPct = clamp(s.memPct + (this.random() - 0.5) * 2, 0.1, 95);
    const payload = {
      ip: s.ip,
      pid: s.pid,
      cpu_usage_pct: round2(s.cpu),
      mem_usage_pct: round2(s.memPct),
      mem_res: Math.round((s.memPct / 100) * s.memTotal),
      timestamp,
    };
    return { key: `${s.ip}:${s.pid}`, value: JSON.stringify(payload) };
  }
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const round2 = (v: number) => Math.round(v * 100) / 100;
