import { Field, Float, GraphQLISODateTime, ObjectType } from 'type-graphql';
import { GraphQLSafeInt } from 'graphql-scalars';

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
