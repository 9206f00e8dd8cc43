import { Arg, Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import type { ApiView } from '../dataservice/api-service.js';
import { outputName } from '../dataservice/definition.js';
import { RollgateError } from '../errors.js';
import type { GraphQLContext } from './context.js';
import { AdminQuery, Api, ApiFilter, App, DataSource } from './admin-types.js';

/** `admin { … }`: the catalog for the admin token, as /admin shows it. Thin: the services decide. */
@Resolver(() => AdminQuery)
export class AdminResolver {
  @Query(() => AdminQuery, { description: 'Data sources, APIs and apps; needs Authorization: Bearer <ROLLGATE_ADMIN_TOKEN or an admin JWT>' })
  admin(@Ctx() ctx: GraphQLContext): AdminQuery {
    requireAdmin(ctx);
    return { isAdmin: true };
  }

  @FieldResolver(() => [DataSource])
  async dataSources(@Ctx() ctx: GraphQLContext): Promise<DataSource[]> {
    requireAdmin(ctx);
    return ctx.dataSources.list();
  }

  @FieldResolver(() => [Api])
  async apis(@Ctx() ctx: GraphQLContext, @Arg('filter', () => ApiFilter, { nullable: true }) filter?: ApiFilter): Promise<Api[]> {
    requireAdmin(ctx);
    const f = filter ?? {};
    const views = await ctx.apis.list({
      ...(f.group == null ? {} : { group: f.group }),
      ...(f.status == null ? {} : { status: f.status }),
      ...(f.name == null ? {} : { name: f.name }),
    });
    return views.map(toApi);
  }

  @FieldResolver(() => [App])
  async apps(@Ctx() ctx: GraphQLContext): Promise<App[]> {
    requireAdmin(ctx);
    return ctx.apps.list();
  }
}

@Resolver(() => Api)
export class ApiFieldsResolver {
  @FieldResolver(() => DataSource, { nullable: true, description: 'The data source the API reads; null if it was removed' })
  async dataSource(@Root() api: Api, @Ctx() ctx: GraphQLContext): Promise<DataSource | undefined> {
    return ctx.loaders.dataSource.load(api.dataSourceName);
  }
}

@Resolver(() => App)
export class AppFieldsResolver {
  @FieldResolver(() => [Api], { description: 'The APIs its grants name, by API or by group' })
  async apis(@Root() app: App, @Ctx() ctx: GraphQLContext): Promise<Api[]> {
    const names = app.grants.filter((g) => g.startsWith('api:')).map((g) => g.slice(4));
    const groups = app.grants.filter((g) => g.startsWith('group:')).map((g) => g.slice(6));
    const [byName, byGroup] = await Promise.all([ctx.loaders.apiByName.loadMany(names), ctx.loaders.apisByGroup.loadMany(groups)]);
    const found = new Map<string, ApiView>();
    for (const v of [...byName, ...byGroup.flat()]) {
      if (v instanceof Error) throw v;
      if (v !== undefined) found.set(v.id, v);
    }
    return [...found.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(toApi);
  }
}

/** Checked on every admin field, not only on `admin`, so no other path to these types can skip it. */
function requireAdmin(ctx: GraphQLContext): void {
  if (!ctx.admin) throw new RollgateError('FORBIDDEN', 'admin fields need Authorization: Bearer <ROLLGATE_ADMIN_TOKEN or an admin JWT>');
}

function toApi(v: ApiView): Api {
  const d = v.definition;
  return {
    id: v.id,
    name: v.name,
    group: v.group,
    path: v.path,
    method: v.method,
    status: v.status,
    version: v.version,
    latestVersion: v.latestVersion,
    draftChanged: v.draftChanged,
    builtin: v.builtin,
    mode: d.mode,
    description: d.description,
    dataSourceName: d.dataSource,
    pagination: d.pagination,
    requestParams: d.requestParams.map((p) => ({
      name: p.name,
      type: p.type,
      required: p.required,
      column: 'column' in p ? p.column : null,
      operator: 'operator' in p ? p.operator : null,
      default: p.default ?? null,
      description: p.description,
    })),
    responseParams: d.responseParams.map((p) => ({ name: outputName(p), column: p.column, type: p.type, description: p.description })),
    createdAt: v.createdAt,
    updatedAt: v.updatedAt,
    updatedBy: v.updatedBy,
  };
}
