import { Field, Float, GraphQLISODateTime, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLSafeInt } from 'graphql-scalars';
import { PageInfo } from './page-info.js';

// Explicit types on every decorator: esbuild-based runners emit no decorator metadata.

@ObjectType({ description: 'Orders of one region over orders ⋈ customers (customer id <> -1), as MySQL would GROUP BY them' })
export class RegionOrderTotal {
  @Field(() => String)
  region!: string;

  @Field(() => GraphQLSafeInt, { description: 'Number of orders' })
  orderCnt!: number;

  @Field(() => Float, { description: 'Sum of order_revenue, exact to the cent' })
  orderTotalRevenue!: number;

  @Field(() => String, { description: 'The same sum as a decimal string with two places, e.g. "1234.50"' })
  orderTotalRevenueDecimal!: string;
}

@ObjectType({ description: 'Orders of one region whose create_time falls in one 5-minute window' })
export class RegionOrderTrendPoint {
  @Field(() => GraphQLISODateTime, { description: 'Start of the 5-minute window (UTC)' })
  windowStart!: Date;

  @Field(() => String)
  region!: string;

  @Field(() => GraphQLSafeInt, { description: 'Number of orders' })
  orderCnt!: number;

  @Field(() => Float, { description: 'Sum of order_revenue, exact to the cent' })
  orderTotalRevenue!: number;

  @Field(() => String, { description: 'The same sum as a decimal string with two places' })
  orderTotalRevenueDecimal!: string;
}

export enum RegionOrderTotalOrder {
  REGION_ASC = 'REGION_ASC',
  ORDER_CNT_DESC = 'ORDER_CNT_DESC',
  REVENUE_DESC = 'REVENUE_DESC',
}

registerEnumType(RegionOrderTotalOrder, {
  name: 'RegionOrderTotalOrder',
  description: 'Order of region totals; ties by region',
  valuesConfig: {
    REGION_ASC: { description: 'By region name' },
    ORDER_CNT_DESC: { description: 'Most orders first' },
    REVENUE_DESC: { description: 'Most revenue first' },
  },
});

export enum RegionOrderTrendOrder {
  WINDOW_START_ASC = 'WINDOW_START_ASC',
  WINDOW_START_DESC = 'WINDOW_START_DESC',
}

registerEnumType(RegionOrderTrendOrder, {
  name: 'RegionOrderTrendOrder',
  description: 'Order of trend points',
  valuesConfig: {
    WINDOW_START_ASC: { description: 'Oldest window first; within a window by region' },
    WINDOW_START_DESC: { description: 'Newest window first: the exact reverse of WINDOW_START_ASC' },
  },
});

@InputType({ description: 'Trend points of one region (all when absent) whose window starts in [from, to)' })
export class RegionOrderTrendFilter {
  @Field(() => String, { nullable: true })
  region?: string;

  @Field(() => GraphQLISODateTime, { nullable: true })
  from?: Date;

  @Field(() => GraphQLISODateTime, { nullable: true })
  to?: Date;
}

@ObjectType()
export class RegionOrderTrendEdge {
  @Field(() => String, { description: 'Opaque; valid for the same filter and order' })
  cursor!: string;

  @Field(() => RegionOrderTrendPoint)
  node!: RegionOrderTrendPoint;
}

@ObjectType({ description: 'Trend points as a Relay connection' })
export class RegionOrderTrendConnection {
  @Field(() => [RegionOrderTrendEdge])
  edges!: RegionOrderTrendEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int, { description: 'Points matching the filter, whatever the cursors and page size' })
  totalCount!: number;
}

/** A row of the region-order-totals API as the GraphQL type. */
export function toRegionOrderTotal(r: Record<string, unknown>): RegionOrderTotal {
  return { region: String(r['order_region']), ...measures(r) };
}

/** A row of the region-order-trend API as the GraphQL type. */
export function toRegionOrderTrendPoint(r: Record<string, unknown>): RegionOrderTrendPoint {
  return { windowStart: new Date(String(r['window_start'])), region: String(r['order_region']), ...measures(r) };
}

function measures(r: Record<string, unknown>) {
  const revenue = Number(r['order_total_revenue']);
  return { orderCnt: Number(r['order_cnt']), orderTotalRevenue: revenue, orderTotalRevenueDecimal: revenue.toFixed(2) };
}
