-- Generated from aggregators/proc-totals-5min.ts by `npm run schema`; do not edit.
-- MySQL 8 and MariaDB 10.6+. {database} is the database of MYSQL_URL (default rollgate).
CREATE TABLE IF NOT EXISTS `{database}`.`proc_totals_5min` (
  window_start DATETIME NOT NULL,
  `ip` VARCHAR(255) NOT NULL,
  `pid` INT UNSIGNED NOT NULL,
  `samples` BIGINT UNSIGNED NOT NULL,
  `cpu_pct_sum` DOUBLE NOT NULL,
  `mem_res_sum` BIGINT UNSIGNED NOT NULL,
  `cpu_pct_min` DOUBLE NOT NULL,
  `mem_usage_pct_avg` DOUBLE NOT NULL,
  final TINYINT(1) NOT NULL,
  version BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (window_start, `ip`, `pid`)
) ENGINE=InnoDB;
