import type { Logger } from '../../logger.js';
import type { WebEvent } from '../../core/web-event.js';
import type { RawEventsWriter } from '../../store/web-events-table.js';
import type { ConsumedBatch, LogConsumer, TopicLog } from '../topic-log.js';
import { WEB_EVENTS_TOPIC } from './collector.js';

const MAX_RETRY_DELAY_MS = 30_000;

/**
 * Copies `web_events` into the raw ClickHouse table: insert a batch, then
 * commit its offsets. A crash between the two redelivers the batch, and the
 * table's ReplacingMergeTree keeps one row per event id, so the table holds
 * every acknowledged event exactly once (after FINAL or a merge).
 *
 * Chosen over ClickHouse's Kafka engine: that needs the server to reach the
 * brokers, has per-version quirks on 18.16, commits before the materialized
 * view's insert is durable, and cannot follow a per-test topic prefix.
 */
export class RawEventsSink {
  private consumer: LogConsumer | undefined;
  private stopped = false;
  readonly topic: string;
  readonly groupId: string;

  constructor(
    private readonly options: { log: TopicLog; writer: RawEventsWriter; topicPrefix: string; logger: Logger },
  ) {
    this.topic = options.topicPrefix + WEB_EVENTS_TOPIC;
    this.groupId = `${options.topicPrefix}rollgate-web-events-raw`;
  }

  async start(): Promise<void> {
    const { log, writer, logger } = this.options;
    await writer.ensureTable();
    await log.ensureTopic(this.topic, 3);
    const consumer = await log.consumer({ groupId: this.groupId, topics: [this.topic], fromBeginning: true });
    this.consumer = consumer;
    await consumer.start({ eachBatch: (batch, ctx) => this.handle(batch, ctx.heartbeat) });
    logger.info({ topic: this.topic, group: this.groupId }, 'raw web events sink started');
  }

  private async handle(batch: ConsumedBatch, heartbeat: () => Promise<void>): Promise<void> {
    const events: WebEvent[] = [];
    for (const m of batch.messages) {
      const event = parse(m.value);
      // The collector wrote every message; anything else is not ours to store.
      if (event === undefined) this.options.logger.warn({ partition: batch.partition, offset: m.offset }, 'skipping a web_events message that is not a web event');
      else events.push(event);
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.writer.insert(events);
        break;
      } catch (err) {
        if (this.stopped) throw err;
        const delay = Math.min(MAX_RETRY_DELAY_MS, 250 * 2 ** Math.min(attempt, 10));
        this.options.logger.error({ err, retryInMs: delay, events: events.length }, 'raw web events insert failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, delay));
        await heartbeat();
      }
    }
    const last = batch.messages[batch.messages.length - 1];
    if (last !== undefined) await this.consumer?.commit([{ topic: batch.topic, partition: batch.partition, offset: last.offset + 1 }]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.consumer?.stop();
    await this.consumer?.close();
    await this.options.writer.close();
  }
}

function parse(value: Buffer | null): WebEvent | undefined {
  if (value === null) return undefined;
  try {
    const v = JSON.parse(value.toString('utf8')) as Partial<WebEvent>;
    const strings = [v.event_id, v.app_id, v.page_id, v.event_type, v.visitor_id, v.ua, v.url, v.args];
    if (strings.some((s) => typeof s !== 'string') || typeof v.timestamp !== 'number' || typeof v.received_at !== 'number') return undefined;
    return v as WebEvent;
  } catch {
    return undefined;
  }
}
