import { Arg, Ctx, FieldResolver, GraphQLISODateTime, Int, Query, Resolver, Root } from 'type-graphql';
import type { UnpagedData } from '../dataservice/execute-api.js';
import { RollgateError } from '../errors.js';
import type { GraphQLContext } from './context.js';
import { cursorScope, encodeCursor, sliceConnection } from './connection.js';
import { TREND_PATH } from './loaders.js';
import {
  RegionOrderTotal,
  RegionOrderTotalOrder,
  RegionOrderTrendConnection,
  RegionOrderTrendFilter,
  RegionOrderTrendOrder,
  RegionOrderTrendPoint,
  toRegionOrderTotal,
  toRegionOrderTrendPoint,
} from './region-order-types.js';

/** Reads through the built-in published APIs, like cpuMemRollups: one path for auth, limits, caching and errors. */
@Resolver(() => RegionOrderTotal)
export class RegionOrderResolver {
  @Query(() => [RegionOrderTotal], { description: 'Order count and revenue per region (seed 002), by region unless orderBy says otherwise' })
  async regionOrderTotals(
    @Ctx() ctx: GraphQLContext,
    @Arg('region', () => String, { nullable: true }) region?: string,
    @Arg('orderBy', () => RegionOrderTotalOrder, { nullable: true }) orderBy?: RegionOrderTotalOrder,
  ): Promise<RegionOrderTotal[]> {
    const data = (await ctx.loaders.apiCall.load({ path: '/region-order-totals', query: region === undefined ? {} : { region } })) as UnpagedData;
    const totals = data.rows.map(toRegionOrderTotal);
    const byRegion = (a: RegionOrderTotal, b: RegionOrderTotal) => (a.region < b.region ? -1 : a.region > b.region ? 1 : 0);
    switch (orderBy ?? RegionOrderTotalOrder.REGION_ASC) {
      case RegionOrderTotalOrder.REGION_ASC:
        return totals.sort(byRegion);
      case RegionOrderTotalOrder.ORDER_CNT_DESC:
        return totals.sort((a, b) => b.orderCnt - a.orderCnt || byRegion(a, b));
      case RegionOrderTotalOrder.REVENUE_DESC:
        return totals.sort((a, b) => b.orderTotalRevenue - a.orderTotalRevenue || byRegion(a, b));
    }
  }

  @FieldResolver(() => [RegionOrderTrendPoint], { description: "This region's trend, oldest first; windows starting in [from, to). All regions of a query share one read." })
  async trend(
    @Root() total: RegionOrderTotal,
    @Ctx() ctx: GraphQLContext,
    @Arg('from', () => GraphQLISODateTime, { nullable: true }) from?: Date,
    @Arg('to', () => GraphQLISODateTime, { nullable: true }) to?: Date,
  ): Promise<RegionOrderTrendPoint[]> {
    const rows = await ctx.loaders.regionTrend.load({ region: total.region, from: from?.toISOString(), to: to?.toISOString() });
    return rows.map(toRegionOrderTrendPoint);
  }

  @Query(() => [RegionOrderTrendPoint], { description: 'Order count and revenue per region and 5-minute window of create_time, oldest first; windows starting in [from, to)' })
  async regionOrderTrend(
    @Ctx() ctx: GraphQLContext,
    @Arg('region', () => String, { nullable: true }) region?: string,
    @Arg('from', () => GraphQLISODateTime, { nullable: true }) from?: Date,
    @Arg('to', () => GraphQLISODateTime, { nullable: true }) to?: Date,
  ): Promise<RegionOrderTrendPoint[]> {
    return (await trendRows(ctx, { region, from, to })).map(toRegionOrderTrendPoint);
  }

  @Query(() => RegionOrderTrendConnection, { description: 'The regional trend as a Relay connection' })
  async regionOrderTrendConnection(
    @Ctx() ctx: GraphQLContext,
    @Arg('filter', () => RegionOrderTrendFilter, { nullable: true }) filter?: RegionOrderTrendFilter,
    @Arg('orderBy', () => RegionOrderTrendOrder, { nullable: true }) orderBy?: RegionOrderTrendOrder,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
    @Arg('last', () => Int, { nullable: true }) last?: number,
    @Arg('before', () => String, { nullable: true }) before?: string,
  ): Promise<RegionOrderTrendConnection> {
    const f = filter ?? {};
    const order = orderBy ?? RegionOrderTrendOrder.WINDOW_START_ASC;
    const scope = cursorScope('regionOrderTrend', [f.region ?? null, f.from?.toISOString() ?? null, f.to?.toISOString() ?? null, order]);
    // The API answers the whole trend (up to its row cap) in one cached call: the connection pages through it in memory.
    const rows = await trendRows(ctx, f);
    if (rows.truncated) {
      // Paging through a cut list would end early without saying so.
      throw new RollgateError('INVALID_PARAMETER', `more than ${rows.rowLimit} trend points match: narrow the filter (region, from, to)`, { field: 'filter' });
    }
    if (order === RegionOrderTrendOrder.WINDOW_START_DESC) rows.reverse();
    const slice = sliceConnection({ first, after, last, before }, rows.length, scope, ctx.limits);
    const edges = rows.slice(slice.start, slice.end).map((r, i) => ({ cursor: encodeCursor(scope, slice.start + i), node: toRegionOrderTrendPoint(r) }));
    return {
      edges,
      totalCount: rows.length,
      pageInfo: {
        hasPreviousPage: slice.hasPreviousPage,
        hasNextPage: slice.hasNextPage,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
    };
  }
}

async function trendRows(ctx: GraphQLContext, f: { region?: string | null | undefined; from?: Date | null | undefined; to?: Date | null | undefined }): Promise<Array<Record<string, unknown>> & { truncated: boolean; rowLimit: number }> {
  const query: Record<string, string> = {};
  if (f.region != null) query['region'] = f.region;
  if (f.from != null) query['from'] = f.from.toISOString();
  if (f.to != null) query['to'] = f.to.toISOString();
  const data = (await ctx.loaders.apiCall.load({ path: TREND_PATH, query })) as UnpagedData;
  return Object.assign([...data.rows], { truncated: data.truncated, rowLimit: data.rowLimit });
}
