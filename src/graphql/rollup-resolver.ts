import { Arg, Ctx, Int, Query, Resolver } from 'type-graphql';
import { cpuMem5min } from '../../aggregators/cpu-mem-5min.js';
import type { PagedData } from '../dataservice/execute-api.js';
import { RollgateError } from '../errors.js';
import { authorize } from '../auth/authenticator.js';
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
    const api = ctx.apis.route(`/${cpuMem5min.name}`);
    if (api === undefined) throw new RollgateError('INTERNAL', 'the built-in cpu-mem-5min API is missing');
    // The field reads the built-in API, so the same grant decides.
    authorize(ctx.principal, api.definition);
    const f = filter ?? {};
    const query: Record<string, string> = {};
    if (f.ip !== undefined) query['ip'] = f.ip;
    if (f.pid !== undefined) query['pid'] = String(f.pid);
    if (f.from !== undefined) query['from'] = f.from.toISOString();
    if (f.to !== undefined) query['to'] = f.to.toISOString();
    // finalOnly: false means "all windows", not "open windows only" as final=false does over REST.
    if (f.finalOnly === true) query['final'] = 'true';
    if (pageNum !== undefined) query['pageNum'] = String(pageNum);
    if (pageSize !== undefined) query['pageSize'] = String(pageSize);
    const result = await ctx.apis.call(api, { query }, { limits: ctx.limits, cache: ctx.cache });
    const page = result.data as PagedData;
    return {
      pageNum: page.pageNum,
      pageSize: page.pageSize,
      totalNum: page.totalNum,
      rows: page.rows.map((r) => ({
        windowStart: new Date(String(r['window_start'])),
        ip: String(r['ip']),
        pid: Number(r['pid']),
        mem: Number(r['mem']),
        cpuUsagePct: Number(r['cpu_usage_pct']),
        memUsagePct: Number(r['mem_usage_pct']),
        samples: Number(r['samples']),
        final: r['final'] === true,
      })),
    };
  }
}
