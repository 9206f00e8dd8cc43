-- Generated from src/store/order-detail-clickhouse.ts by `npm run schema`; do not edit.
-- Seed 002's enriched detail, written by the region-orders aggregator. Read with FINAL WHERE is_deleted = 0.
-- Runs on ClickHouse 18.16 and current releases. {database} is CLICKHOUSE_DATABASE (default rollgate).
CREATE TABLE IF NOT EXISTS `{database}`.`dwd_order_customer_valid`
(
    order_id Int32,
    order_revenue Float32,
    order_region String,
    create_time DateTime,
    customer_id Int32,
    customer_age Float32,
    customer_name String,
    customer_gender String,
    order_revenue_cents Int64,
    version UInt64,
    is_deleted UInt8
)
ENGINE = ReplacingMergeTree(version)
ORDER BY order_id;
