-- Generated from aggregators/cpu-mem-5min.ts by `npm run schema`; do not edit.
-- Runs on ClickHouse 18.16 and current releases. {database} is CLICKHOUSE_DATABASE (default rollgate).
CREATE TABLE IF NOT EXISTS `{database}`.`cpu_mem_5min`
(
    `window_start` DateTime,
    `ip` String,
    `pid` UInt32,
    `mem` UInt64,
    `cpu_usage_pct` Float64,
    `mem_usage_pct` Float64,
    `samples` UInt64,
    `final` UInt8,
    `version` UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (`ip`, `pid`, `window_start`);
