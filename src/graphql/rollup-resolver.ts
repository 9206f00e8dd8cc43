import { Arg, Ctx, Int, Query, Resolver } from 'type-graphql';
import { cpuMem5min } from '../../aggregators/cpu-mem-5min.js';
import { parseRollupParams } from '../dataservice/rollup-params.js';
import type { GraphQLContext } from './context.js';
import { CpuMemFilter, CpuMemRollupPage } from './cpu-mem-types.js';

@Resolver()
export class RollupResolver {
  @Query(() => CpuMemRollupPage, { description: 'cpu-mem-5min rollups, newest window first' })
  async cpuMemRollups(
    @Ctx() ctx: GraphQLContext,
    @Arg('filter', () => CpuMemFilter, { nullable: true }) filter?: CpuMemFilter,
    @Arg('pageNum', () => Int, { nullable: true }) pageNum?: number,
    @Arg('pageSize', () => Int, { nullable: true }) pageSize?: number,
  ): Promise<CpuMemRollupPage> {
    const { finalOnly, ...rest } = filter ?? {};
    const request = parseRollupParams(cpuMem5min, { ...rest, final: finalOnly, pageNum, pageSize }, ctx.limits);
    const page = await ctx.rollups.page(cpuMem5min, request);
    return {
      pageNum: request.pageNum,
      pageSize: request.pageSize,
      totalNum: page.totalNum,
      rows: page.rows.map((r) => ({
        windowStart: new Date(r.windowStart),
        ip: String(r.group['ip']),
        pid: Number(r.group['pid']),
        mem: r.measures['mem'] ?? 0,
        cpuUsagePct: r.measures['cpu_usage_pct'] ?? 0,
        memUsagePct: r.measures['mem_usage_pct'] ?? 0,
        samples: r.measures['samples'] ?? 0,
        final: r.final,
      })),
    };
  }
}
