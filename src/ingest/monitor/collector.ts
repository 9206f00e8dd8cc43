import { RollgateError, dependencyUnavailable } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { webEventKey, type WebEvent } from '../../core/web-event.js';
import type { LogProducer, OutgoingMessage } from '../topic-log.js';
import type { UploadRateLimiter } from './rate-limits.js';

export const WEB_EVENTS_TOPIC = 'web_events';

export interface CollectorOptions {
  /**
   * Opens the producer (and makes sure the topic exists). Called on the first
   * upload and again after a failure, so the gateway starts, and serves
   * everything else, while Kafka is down; uploads meanwhile answer 503.
   */
  producer: () => Promise<LogProducer>;
  /** `web_events` with the deployment's topic prefix. */
  topic: string;
  limiter: UploadRateLimiter;
  /** Allowed browser origins per appId; undefined: any appId from any origin. */
  origins: Record<string, string[] | '*'> | undefined;
  ackTimeoutMs: number;
  logger: Logger;
}

/**
 * Takes checked upload events to `web_events`. `accept` resolves only once
 * Kafka has acknowledged every event (acks=all, idempotent producer), so a 2xx
 * means the event is durable; a timeout answers 503 and the client retries
 * with the same event ids, which the raw-event table deduplicates.
 */
/** Bytes of messages coalesced into one produce request, well under Kafka's default 1 MB request limit. */
const MAX_COALESCED_BYTES = 512 * 1024;

interface PendingSend {
  messages: OutgoingMessage[];
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class MonitorCollector {
  private readonly waiting: PendingSend[] = [];
  private inFlight = false;
  private producer: Promise<LogProducer> | undefined;

  constructor(private readonly options: CollectorOptions) {}

  /** An appId the deployment does not know is refused when origins are configured. */
  checkApp(appId: string, origin: string | undefined, field: string): void {
    const { origins } = this.options;
    if (origins === undefined) return;
    const allowed = origins[appId];
    if (allowed === undefined) throw new RollgateError('FORBIDDEN', `${field}: unknown appId ${JSON.stringify(appId)}`, { field });
    if (origin !== undefined && allowed !== '*' && !allowed.includes(origin)) {
      throw new RollgateError('FORBIDDEN', `${field}: origin ${origin} may not upload events of appId ${appId}`, { field });
    }
  }

  /** For CORS preflights, which carry no body: an origin allowed for some appId. */
  originAllowedForSomeApp(origin: string): boolean {
    const { origins } = this.options;
    if (origins === undefined) return true;
    return Object.values(origins).some((o) => o === '*' || o.includes(origin));
  }

  async accept(events: readonly WebEvent[], clientIp: string): Promise<void> {
    await this.options.limiter.consume(clientIp, events.map((e) => e.app_id), events.length);
    const messages = events.map((e) => ({ key: webEventKey(e), value: JSON.stringify(e) }));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no acknowledgement within ${this.options.ackTimeoutMs} ms`)), this.options.ackTimeoutMs);
    });
    try {
      await Promise.race([this.send(messages), timeout]);
    } catch (err) {
      this.options.logger.warn({ err, events: events.length }, 'web events not acknowledged; answering 503');
      throw dependencyUnavailable('kafka', err);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The idempotent producer keeps one request in flight (ordering), so uploads
   * arriving while one is in flight wait and then go out together in the next
   * request: one acknowledgement round trip serves many uploads, and each
   * upload still answers only after its own events are acknowledged.
   */
  private send(messages: OutgoingMessage[]): Promise<void> {
    const bytes = messages.reduce((n, m) => n + Buffer.byteLength(m.value) + (m.key?.length ?? 0) + 64, 0);
    return new Promise((resolve, reject) => {
      this.waiting.push({ messages, bytes, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.inFlight || this.waiting.length === 0) return;
    let take = 0;
    let bytes = 0;
    for (const w of this.waiting) {
      if (take > 0 && bytes + w.bytes > MAX_COALESCED_BYTES) break;
      bytes += w.bytes;
      take += 1;
    }
    const batch = this.waiting.splice(0, take);
    this.inFlight = true;
    this.openProducer()
      .then((producer) => producer.send(this.options.topic, batch.flatMap((w) => w.messages)))
      .then(
        () => batch.forEach((w) => w.resolve()),
        (err: unknown) => batch.forEach((w) => w.reject(err)),
      )
      .finally(() => {
        this.inFlight = false;
        this.pump();
      });
  }

  private openProducer(): Promise<LogProducer> {
    if (this.producer === undefined) {
      const opening = this.options.producer();
      this.producer = opening;
      opening.catch(() => {
        if (this.producer === opening) this.producer = undefined;
      });
    }
    return this.producer;
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    if (producer !== undefined) await (await producer.catch(() => undefined))?.close();
    await this.options.limiter.close();
  }
}
