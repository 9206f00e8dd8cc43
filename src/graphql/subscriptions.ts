import { Arg, Ctx, Resolver, Root, Subscription, type SubscribeResolverData, type SubscriptionHandlerData } from 'type-graphql';
import { cpuMem5min } from '../../aggregators/cpu-mem-5min.js';
import { authorize } from '../auth/authenticator.js';
import {
  REGION_TOTALS_TOPIC,
  decodeRegionTotalsMessage,
  decodeRowsMessage,
  matchesRow,
  rollupRowsTopic,
  type LiveRow,
} from '../core/live-messages.js';
import type { UnpagedData } from '../dataservice/execute-api.js';
import { RollgateError } from '../errors.js';
import type { GraphQLContext } from './context.js';
import { CpuMemFilter, CpuMemRollup } from './cpu-mem-types.js';
import { RegionOrderTotal } from './region-order-types.js';

const REGION_TOTALS_API = '/region-order-totals';

/**
 * Live updates over graphql-ws (src/http/graphql-ws.ts), fed by the
 * aggregators through LiveUpdates. A subscription reads what a built-in API
 * reads, so the app must hold that API's grant, checked when it subscribes.
 */
@Resolver()
export class LiveResolver {
  @Subscription(() => [CpuMemRollup], {
    description:
      'cpu-mem-5min rows as the aggregator writes them: partial rows of open windows (final: false) every flush, then each window\'s final row. One event per write, holding the rows that match the filter.',
    topics: ({ context }: SubscribeResolverData<unknown, Record<string, unknown>, GraphQLContext>) => {
      authorizeApi(context, `/${cpuMem5min.name}`);
      return rollupRowsTopic(cpuMem5min.name);
    },
    filter: ({ payload, args }: SubscriptionHandlerData<unknown, { filter?: CpuMemFilter | null }>) => cpuMemRows(payload, args.filter).length > 0,
  })
  cpuMemWindows(
    @Root() payload: unknown,
    @Arg('filter', () => CpuMemFilter, { nullable: true, description: 'By host (ip), process (pid), window start in [from, to), or final rows only' }) filter?: CpuMemFilter,
  ): CpuMemRollup[] {
    overWebSocket(payload);
    return cpuMemRows(payload, filter).map(toCpuMemRollup);
  }

  @Subscription(() => [RegionOrderTotal], {
    description:
      'Order totals per region, sent each time the region-orders aggregator commits a change to them: every region, or only the one asked for (sent when that region moves).',
    topics: ({ context }: SubscribeResolverData<unknown, Record<string, unknown>, GraphQLContext>) => {
      authorizeApi(context, REGION_TOTALS_API);
      return REGION_TOTALS_TOPIC;
    },
    filter: ({ payload, args }: SubscriptionHandlerData<unknown, { region?: string | null }>) => {
      const message = decodeRegionTotalsMessage(payload);
      return message !== undefined && (args.region == null || message.regions.includes(args.region));
    },
  })
  regionOrderTotalsChanged(
    @Root() payload: unknown,
    @Ctx() ctx: GraphQLContext,
    @Arg('region', () => String, { nullable: true }) region?: string,
  ): Promise<RegionOrderTotal[]> {
    overWebSocket(payload);
    return currentTotals(payload, ctx, region ?? undefined);
  }
}

/** Over HTTP a subscription would run once as a query, with no event: say where it is served instead of answering empty. */
function overWebSocket(payload: unknown): void {
  if (payload === undefined || payload === null) {
    throw new RollgateError('METHOD_NOT_ALLOWED', 'subscriptions are served over WebSocket (graphql-ws, subprotocol graphql-transport-ws) at /graphql');
  }
}

function authorizeApi(ctx: GraphQLContext, path: string): void {
  const api = ctx.apis.route(path);
  if (api === undefined) throw new RollgateError('INTERNAL', `the built-in API ${path} is missing`);
  authorize(ctx.principal, api.definition);
}

function cpuMemRows(payload: unknown, filter: CpuMemFilter | null | undefined): LiveRow[] {
  const message = decodeRowsMessage(payload);
  if (message === undefined) return [];
  const f = filter ?? {};
  const wanted = {
    group: { ip: f.ip ?? undefined, pid: f.pid ?? undefined },
    ...(f.from == null ? {} : { from: f.from.getTime() }),
    ...(f.to == null ? {} : { to: f.to.getTime() }),
    ...(f.finalOnly == null ? {} : { finalOnly: f.finalOnly }),
  };
  return message.rows.filter((r) => matchesRow(r, wanted));
}

function toCpuMemRollup(r: LiveRow): CpuMemRollup {
  return {
    windowStart: new Date(r.windowStart),
    ip: String(r.group['ip']),
    pid: Number(r.group['pid']),
    mem: r.measures['mem'] ?? 0,
    cpuUsagePct: r.measures['cpu_usage_pct'] ?? 0,
    memUsagePct: r.measures['mem_usage_pct'] ?? 0,
    samples: r.measures['samples'] ?? 0,
    final: r.final,
  };
}

/**
 * The totals as they are now, read from the store past the cache (a cached
 * page could predate the change this message announces). Every subscriber of
 * a gateway gets the same message object, so one read serves all of them.
 */
const reads = new WeakMap<object, Map<string, Promise<RegionOrderTotal[]>>>();

function currentTotals(payload: unknown, ctx: GraphQLContext, region: string | undefined): Promise<RegionOrderTotal[]> {
  if (typeof payload !== 'object' || payload === null) return Promise.resolve([]);
  let byRegion = reads.get(payload);
  if (byRegion === undefined) {
    byRegion = new Map();
    reads.set(payload, byRegion);
  }
  const key = region ?? '';
  let read = byRegion.get(key);
  if (read === undefined) {
    read = readTotals(ctx, region);
    byRegion.set(key, read);
  }
  return read;
}

async function readTotals(ctx: GraphQLContext, region: string | undefined): Promise<RegionOrderTotal[]> {
  const api = ctx.apis.route(REGION_TOTALS_API);
  if (api === undefined) throw new RollgateError('INTERNAL', `the built-in API ${REGION_TOTALS_API} is missing`);
  const result = await ctx.apis.call(api, { query: region === undefined ? {} : { region } }, { limits: ctx.limits, cache: undefined });
  return (result.data as UnpagedData).rows.map((r) => {
    const revenue = Number(r['order_total_revenue']);
    return { region: String(r['order_region']), orderCnt: Number(r['order_cnt']), orderTotalRevenue: revenue, orderTotalRevenueDecimal: revenue.toFixed(2) };
  });
}
