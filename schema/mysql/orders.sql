-- Generated from src/demo/orders-source.ts by `npm run schema`; do not edit.
-- Seed 002's source table, in the database of MYSQL_URL ({database}, default rollgate).
-- `rollgate orders-generator` creates it; `rollgate cdc` captures it.
CREATE TABLE IF NOT EXISTS `{database}`.`orders` (
    order_id INT NOT NULL AUTO_INCREMENT,
    order_revenue FLOAT NOT NULL,
    order_region VARCHAR(40) NOT NULL,
    customer_id INT NOT NULL,
    create_time TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY ( order_id )
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
