import { Arg, Ctx, Int, Query, Resolver } from 'type-graphql';
import { cpuMem5min } from '../../aggregators/cpu-mem-5min.js';
import type { PagedData } from '../dataservice/execute-api.js';
import type { GraphQLContext } from './context.js';
import { cursorScope, encodeCursor, pagesCovering, sliceConnection } from './connection.js';
import { CpuMemFilter, CpuMemOrder, CpuMemRollup, CpuMemRollupConnection, CpuMemRollupPage } from './cpu-mem-types.js';

const PATH = `/${cpuMem5min.name}`;

@Resolver()
export class RollupResolver {
  @Query(() => CpuMemRollupPage, { description: 'cpu-mem-5min rollups, newest window first' })
  async cpuMemRollups(
    @Ctx() ctx: GraphQLContext,
    @Arg('filter', () => CpuMemFilter, { nullable: true }) filter?: CpuMemFilter,
    @Arg('pageNum', () => Int, { nullable: true }) pageNum?: number,
    @Arg('pageSize', () => Int, { nullable: true }) pageSize?: number,
  ): Promise<CpuMemRollupPage> {
    const query = filterQuery(filter);
    if (pageNum != null) query['pageNum'] = String(pageNum);
    if (pageSize != null) query['pageSize'] = String(pageSize);
    const page = await readPage(ctx, query);
    return { pageNum: page.pageNum, pageSize: page.pageSize, totalNum: page.totalNum, rows: page.rows.map(toCpuMemRollup) };
  }

  @Query(() => CpuMemRollupConnection, { description: 'cpu-mem-5min rollups as a Relay connection (first/after, last/before)' })
  async cpuMemRollupConnection(
    @Ctx() ctx: GraphQLContext,
    @Arg('filter', () => CpuMemFilter, { nullable: true }) filter?: CpuMemFilter,
    @Arg('orderBy', () => CpuMemOrder, { nullable: true }) orderBy?: CpuMemOrder,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
    @Arg('last', () => Int, { nullable: true }) last?: number,
    @Arg('before', () => String, { nullable: true }) before?: string,
  ): Promise<CpuMemRollupConnection> {
    const query = filterQuery(filter);
    const order = orderBy ?? CpuMemOrder.WINDOW_START_DESC;
    const scope = cursorScope('cpuMemRollups', [query, order]);
    const args = { first, after, last, before };
    const ascending = order === CpuMemOrder.WINDOW_START_ASC;
    // The API pages newest first. Oldest first, or counting back with `last`, a row's position needs the total
    // first; newest first with `first`, the rows are read at once and the total comes with their page.
    let total = ascending || last != null ? await totalOf(ctx, query) : undefined;
    const bound = total ?? UNKNOWN_END;
    let slice = sliceConnection(args, bound, scope, ctx.limits);
    const [from, to] = ascending ? [bound - slice.end, bound - slice.start] : [slice.start, slice.end];
    const pages = pagesCovering(from, to);
    const read = pages === undefined ? [] : await Promise.all(pages.pageNums.map((n) => readPage(ctx, { ...query, pageNum: String(n), pageSize: String(pages.pageSize) })));
    if (total === undefined) {
      total = read[0]?.totalNum ?? (await totalOf(ctx, query));
      // The same start; the end and hasNextPage as the real total has them.
      slice = sliceConnection(args, total, scope, ctx.limits);
    }
    const rows = pages === undefined ? [] : read.flatMap((p) => p.rows).slice(pages.skip, pages.skip + (slice.end - slice.start));
    if (ascending) rows.reverse();
    const edges = rows.map((r, i) => ({ cursor: encodeCursor(scope, slice.start + i), node: toCpuMemRollup(r) }));
    return {
      edges,
      totalCount: total,
      pageInfo: {
        hasPreviousPage: slice.hasPreviousPage,
        hasNextPage: slice.hasNextPage,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
    };
  }
}

/** Positions past the end read as no rows: a bound for placing a page before the total is known. */
const UNKNOWN_END = 1_000_000_000;

async function totalOf(ctx: GraphQLContext, query: Record<string, string>): Promise<number> {
  return (await readPage(ctx, { ...query, pageNum: '1', pageSize: '1' })).totalNum;
}

function filterQuery(filter: CpuMemFilter | null | undefined): Record<string, string> {
  const f = filter ?? {};
  const query: Record<string, string> = {};
  if (f.ip != null) query['ip'] = f.ip;
  if (f.pid != null) query['pid'] = String(f.pid);
  if (f.from != null) query['from'] = f.from.toISOString();
  if (f.to != null) query['to'] = f.to.toISOString();
  // finalOnly: false means "all windows", not "open windows only" as final=false does over REST.
  if (f.finalOnly === true) query['final'] = 'true';
  return query;
}

async function readPage(ctx: GraphQLContext, query: Record<string, string>): Promise<PagedData> {
  return (await ctx.loaders.apiCall.load({ path: PATH, query })) as PagedData;
}

function toCpuMemRollup(r: Record<string, unknown>): CpuMemRollup {
  return {
    windowStart: new Date(String(r['window_start'])),
    ip: String(r['ip']),
    pid: Number(r['pid']),
    mem: Number(r['mem']),
    cpuUsagePct: Number(r['cpu_usage_pct']),
    memUsagePct: Number(r['mem_usage_pct']),
    samples: Number(r['samples']),
    final: r['final'] === true,
  };
}
