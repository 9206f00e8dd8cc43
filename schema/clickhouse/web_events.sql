-- Generated from src/store/web-events-table.ts by `npm run schema`; do not edit.
-- Runs on ClickHouse 18.16 and current releases. {database} is CLICKHOUSE_DATABASE (default rollgate).
CREATE TABLE IF NOT EXISTS `{database}`.`web_events`
(
    event_date Date,
    event_time DateTime,
    timestamp_ms UInt64,
    app_id String,
    page_id String,
    event_type String,
    event_id String,
    visitor_id String,
    ua String,
    url String,
    args String,
    received_at DateTime
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(event_date)
ORDER BY (app_id, event_date, page_id, event_type, event_id);
