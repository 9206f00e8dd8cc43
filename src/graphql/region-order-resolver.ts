import { Arg, Ctx, GraphQLISODateTime, Query, Resolver } from 'type-graphql';
import type { UnpagedData } from '../dataservice/execute-api.js';
import { RollgateError } from '../errors.js';
import type { GraphQLContext } from './context.js';
import { RegionOrderTotal, RegionOrderTrendPoint } from './region-order-types.js';

/** Reads through the built-in published APIs, like cpuMemRollups: one path for auth, limits, caching and errors. */
@Resolver()
export class RegionOrderResolver {
  @Query(() => [RegionOrderTotal], { description: 'Order count and revenue per region (seed 002), by region' })
  async regionOrderTotals(
    @Ctx() ctx: GraphQLContext,
    @Arg('region', () => String, { nullable: true }) region?: string,
  ): Promise<RegionOrderTotal[]> {
    const rows = await callRows(ctx, '/region-order-totals', region === undefined ? {} : { region });
    return rows.map((r) => ({ region: String(r['order_region']), ...measures(r) }));
  }

  @Query(() => [RegionOrderTrendPoint], { description: 'Order count and revenue per region and 5-minute window of create_time, oldest first; windows starting in [from, to)' })
  async regionOrderTrend(
    @Ctx() ctx: GraphQLContext,
    @Arg('region', () => String, { nullable: true }) region?: string,
    @Arg('from', () => GraphQLISODateTime, { nullable: true }) from?: Date,
    @Arg('to', () => GraphQLISODateTime, { nullable: true }) to?: Date,
  ): Promise<RegionOrderTrendPoint[]> {
    const query: Record<string, string> = {};
    if (region !== undefined) query['region'] = region;
    if (from !== undefined) query['from'] = from.toISOString();
    if (to !== undefined) query['to'] = to.toISOString();
    const rows = await callRows(ctx, '/region-order-trend', query);
    return rows.map((r) => ({ windowStart: new Date(String(r['window_start'])), region: String(r['order_region']), ...measures(r) }));
  }
}

async function callRows(ctx: GraphQLContext, path: string, query: Record<string, string>): Promise<UnpagedData['rows']> {
  const api = ctx.apis.route(path);
  if (api === undefined) throw new RollgateError('INTERNAL', `the built-in API ${path} is missing`);
  const result = await ctx.apis.call(api, { query }, { limits: ctx.limits, cache: ctx.cache });
  return (result.data as UnpagedData).rows;
}

function measures(r: Record<string, unknown>) {
  const revenue = Number(r['order_total_revenue']);
  return { orderCnt: Number(r['order_cnt']), orderTotalRevenue: revenue, orderTotalRevenueDecimal: revenue.toFixed(2) };
}
