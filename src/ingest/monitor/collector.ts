import { RollgateError, dependencyUnavailable } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { webEventKey, type WebEvent } from '../../core/web-event.js';
import type { LogProducer } from '../topic-log.js';
import type { UploadRateLimiter } from './rate-limits.js';

export const WEB_EVENTS_TOPIC = 'web_events';

export interface CollectorOptions {
  producer: LogProducer;
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
export class MonitorCollector {
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
      await Promise.race([this.options.producer.send(this.options.topic, messages), timeout]);
    } catch (err) {
      this.options.logger.warn({ err, events: events.length }, 'web events not acknowledged; answering 503');
      throw dependencyUnavailable('kafka', err);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.options.producer.close();
    await this.options.limiter.close();
  }
}
