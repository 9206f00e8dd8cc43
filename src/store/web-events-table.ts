import { ClickHouseError, type ClickHouseClient } from '@clickhouse/client';
import { clickhouseClient, type ClickHouseEndpoint } from './clickhouse-client.js';
import { ident, qualified, sql, type SqlFragment } from '../core/sql-literal.js';
import type { WebEvent } from '../core/web-event.js';
import { RollgateError, dependencyUnavailable } from '../errors.js';

export const WEB_EVENTS_TABLE = 'web_events';

/**
 * The raw browser events (seed 003's date-partitioned `za_monitor` table), on
 * ClickHouse 18.16 and current releases. A day partition per event date; the
 * sorting key ends in `event_id`, so ReplacingMergeTree folds a redelivered
 * event into one row (dedupe is per partition, and an event's date never
 * changes). Read with FINAL, or count `uniqExact(event_id)`, for exact counts
 * before merges run.
 */
export function webEventsDdl(database: string): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${qualified(database, WEB_EVENTS_TABLE).text}`,
    `(`,
    `    event_date Date,`,
    `    event_time DateTime,`,
    `    timestamp_ms UInt64,`,
    `    app_id String,`,
    `    page_id String,`,
    `    event_type String,`,
    `    event_id String,`,
    `    visitor_id String,`,
    `    ua String,`,
    `    url String,`,
    `    args String,`,
    `    received_at DateTime`,
    `)`,
    `ENGINE = ReplacingMergeTree()`,
    `PARTITION BY toYYYYMMDD(event_date)`,
    `ORDER BY (app_id, event_date, page_id, event_type, event_id)`,
  ].join('\n');
}

export interface RawEventsWriter {
  ensureTable(): Promise<void>;
  insert(events: readonly WebEvent[]): Promise<void>;
  close(): Promise<void>;
}

export class ClickHouseWebEvents implements RawEventsWriter {
  private readonly client: ClickHouseClient;

  constructor(private readonly options: ClickHouseEndpoint) {
    this.client = clickhouseClient(options);
  }

  async ensureTable(): Promise<void> {
    await this.command(sql`CREATE DATABASE IF NOT EXISTS ${ident(this.options.database)}`);
    await classify(this.client.command({ query: webEventsDdl(this.options.database) }));
  }

  async insert(events: readonly WebEvent[]): Promise<void> {
    if (events.length === 0) return;
    await classify(
      this.client.insert({
        table: qualified(this.options.database, WEB_EVENTS_TABLE).text,
        format: 'JSONEachRow',
        // The day in UTC as text, times as unix seconds: no time-zone guessing on any version.
        values: events.map((e) => ({
          event_date: new Date(e.timestamp).toISOString().slice(0, 10),
          event_time: Math.floor(e.timestamp / 1000),
          timestamp_ms: e.timestamp,
          app_id: e.app_id,
          page_id: e.page_id,
          event_type: e.event_type,
          event_id: e.event_id,
          visitor_id: e.visitor_id,
          ua: e.ua,
          url: e.url,
          args: e.args,
          received_at: Math.floor(e.received_at / 1000),
        })),
      }),
    );
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async command(query: SqlFragment): Promise<void> {
    await classify(this.client.command({ query: query.text }));
  }
}

async function classify<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof ClickHouseError) throw new RollgateError('INTERNAL', `clickhouse error ${err.code}`, { cause: err });
    throw dependencyUnavailable('clickhouse', err);
  }
}
