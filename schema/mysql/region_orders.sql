-- Generated from src/store/region-orders-store.ts by `npm run schema`; do not edit.
-- The region-orders aggregator (seed 002): results, the join's mirror state and consumed offsets, changed in one transaction per batch.
-- MySQL 8 and MariaDB 10.6+. {database} is the database of MYSQL_URL (default rollgate).
CREATE TABLE IF NOT EXISTS `{database}`.`region_order_totals` (
    order_region VARCHAR(40) NOT NULL PRIMARY KEY,
    order_cnt BIGINT NOT NULL,
    order_total_revenue DECIMAL(20,2) NOT NULL
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `{database}`.`region_orders_5min` (
    window_start DATETIME NOT NULL,
    order_region VARCHAR(40) NOT NULL,
    order_cnt BIGINT NOT NULL,
    order_total_revenue DECIMAL(20,2) NOT NULL,
    PRIMARY KEY (window_start, order_region),
    KEY by_region (order_region, window_start)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `{database}`.`region_orders_mirror_orders` (
    order_id INT NOT NULL PRIMARY KEY,
    present TINYINT(1) NOT NULL,
    order_region VARCHAR(40) NOT NULL,
    revenue_cents BIGINT NOT NULL,
    customer_id INT NOT NULL,
    create_time_ms BIGINT NULL,
    pos_file VARCHAR(255) NOT NULL, pos BIGINT UNSIGNED NOT NULL, pos_row INT UNSIGNED NOT NULL,
    KEY by_customer (customer_id)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `{database}`.`region_orders_mirror_customers` (
    id INT NOT NULL PRIMARY KEY,
    present TINYINT(1) NOT NULL,
    name VARCHAR(100) NULL, age INT NULL, gender VARCHAR(16) NULL,
    pos_file VARCHAR(255) NOT NULL, pos BIGINT UNSIGNED NOT NULL, pos_row INT UNSIGNED NOT NULL
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `{database}`.`region_orders_offsets` (
    group_id VARCHAR(255) NOT NULL, topic VARCHAR(255) NOT NULL, `partition` INT UNSIGNED NOT NULL,
    next_offset BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (group_id, topic, `partition`)
  ) ENGINE=InnoDB;
