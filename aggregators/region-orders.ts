/**
 * Seed 002: order count and revenue per `order_region` over the inner join of
 * `orders` and `customers` (customer id <> -1), from the CDC topics `orders`
 * and `customers`, plus the same per 5-minute window of `create_time`. Not a
 * windowed RollupSpec: its input is a changelog (updates and deletes retract),
 * so it runs on its own runner (src/aggregation/region-orders-runner.ts) over
 * the pure core in src/core/region-orders.ts, and keeps its state in MySQL.
 */
export const regionOrders = {
  name: 'region-orders',
  description: 'Order count and revenue per region over orders ⋈ customers (seed 002), and per 5-minute window of create_time',
  topics: ['orders', 'customers'],
  store: 'mysql',
  tables: { totals: 'region_order_totals', trend: 'region_orders_5min' },
} as const;
