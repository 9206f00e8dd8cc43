import type { ClickHouseClient } from '@clickhouse/client';
import { clickhouseClient, type ClickHouseEndpoint } from './clickhouse-client.js';
import type { DetailRow } from '../core/region-orders.js';
import { ident, qualified } from '../core/sql-literal.js';
import { RollgateError, dependencyUnavailable } from '../errors.js';

export const DETAIL_TABLE = 'dwd_order_customer_valid';

/**
 * Seed 002's enriched detail `dwd_order_customer_valid` in ClickHouse: the
 * rows of orders ⋈ customers, kept current under updates and deletes. Its
 * columns are the seed's, plus `order_revenue_cents` (exact), `version` and
 * `is_deleted`. Every row the region-orders aggregator may have moved is
 * written again with the batch's sequence number as version, so
 * ReplacingMergeTree keeps the newest; a row that left the join is written
 * with is_deleted = 1. Read it as
 *
 *   SELECT … FROM dwd_order_customer_valid FINAL WHERE is_deleted = 0
 *
 * Rows are written before the batch's MySQL transaction commits: if that
 * commit is lost, the replay writes the same orders again with a version at
 * least as high, so nothing stale survives (see RegionOrdersStore.apply).
 * The DDL and inserts (JSONEachRow, no query parameters) run on ClickHouse
 * 18.16 and current releases.
 */
export function detailDdl(database: string): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${qualified(database, DETAIL_TABLE).text}`,
    `(`,
    `    order_id Int32,`,
    `    order_revenue Float32,`,
    `    order_region String,`,
    `    create_time DateTime,`,
    `    customer_id Int32,`,
    `    customer_age Float32,`,
    `    customer_name String,`,
    `    customer_gender String,`,
    `    order_revenue_cents Int64,`,
    `    version UInt64,`,
    `    is_deleted UInt8`,
    `)`,
    `ENGINE = ReplacingMergeTree(version)`,
    `ORDER BY order_id`,
  ].join('\n');
}

export interface DetailSink {
  ensureTable(): Promise<void>;
  write(rows: readonly DetailRow[], version: number): Promise<void>;
  close(): Promise<void>;
}

export class ClickHouseDetailSink implements DetailSink {
  private readonly client: ClickHouseClient;

  constructor(private readonly options: ClickHouseEndpoint) {
    this.client = clickhouseClient(options);
  }

  async ensureTable(): Promise<void> {
    await guard(this.client.command({ query: `CREATE DATABASE IF NOT EXISTS ${ident(this.options.database).text}` }));
    await guard(this.client.command({ query: detailDdl(this.options.database) }));
  }

  async write(rows: readonly DetailRow[], version: number): Promise<void> {
    if (rows.length === 0) return;
    await guard(
      this.client.insert({
        table: qualified(this.options.database, DETAIL_TABLE).text,
        format: 'JSONEachRow',
        values: rows.map((r) => ({
          order_id: r.orderId,
          order_revenue: Number(r.order.revenueCents) / 100,
          order_region: r.order.region,
          create_time: Math.floor((r.order.createTimeMs ?? 0) / 1000),
          customer_id: r.order.customerId,
          customer_age: r.customer?.age ?? 0,
          customer_name: r.customer?.name ?? '',
          customer_gender: r.customer?.gender ?? '',
          order_revenue_cents: r.order.revenueCents.toString(),
          version,
          is_deleted: r.valid ? 0 : 1,
        })),
      }),
    );
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

async function guard<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof RollgateError) throw err;
    throw dependencyUnavailable('clickhouse', err);
  }
}
