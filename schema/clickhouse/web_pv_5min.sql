-- Generated from aggregators/web-pv-5min.ts by `npm run schema`; do not edit.
-- Runs on ClickHouse 18.16 and current releases. {database} is CLICKHOUSE_DATABASE (default rollgate).
CREATE TABLE IF NOT EXISTS `{database}`.`web_pv_5min`
(
    `window_start` DateTime,
    `app_id` String,
    `page_id` String,
    `event_type` String,
    `pv` UInt64,
    `uv` UInt64,
    `final` UInt8,
    `version` UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (`app_id`, `page_id`, `event_type`, `window_start`);
