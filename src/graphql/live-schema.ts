import {
  GraphQLBoolean,
  GraphQLFloat,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  validateSchema,
  type GraphQLFieldConfig,
  type GraphQLFieldConfigArgumentMap,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLScalarType,
} from 'graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { GraphQLLong } from './long-scalar.js';
import type { ServedApi } from '../dataservice/api-service.js';
import type { ParamType } from '../dataservice/bound-sql.js';
import { outputName, type ApiDefinition } from '../dataservice/definition.js';
import type { PagedData, UnpagedData } from '../dataservice/execute-api.js';
import type { Logger } from '../logger.js';
import type { GraphQLContext } from './context.js';

/** What LiveSchema needs of the API service: the served APIs, and a word when they change. */
export interface PublishedCatalog {
  served(): ServedApi[];
  onRoutesChange(listener: () => void): () => void;
}

/**
 * The current GraphQL schema: the static type-graphql schema plus one field
 * per published API under `published`. It is rebuilt when the route table
 * changes (publish, offline, rollback, here or on another instance: the
 * catalog follower reloads it), and only when the served set differs.
 * Everything that serves GraphQL asks `current()` per operation, or listens.
 */
export class LiveSchema {
  private schema: GraphQLSchema;
  private signature: string;
  private readonly listeners = new Set<(schema: GraphQLSchema) => void>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly base: GraphQLSchema,
    private readonly catalog: PublishedCatalog,
    private readonly logger: Logger,
  ) {
    const served = catalog.served();
    this.signature = signatureOf(served);
    this.schema = this.build(served);
    this.unsubscribe = catalog.onRoutesChange(() => this.rebuild());
  }

  current(): GraphQLSchema {
    return this.schema;
  }

  /** Calls `listener` with each new schema; returns the unsubscriber. */
  onChange(listener: (schema: GraphQLSchema) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stop(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  private rebuild(): void {
    const served = this.catalog.served();
    const signature = signatureOf(served);
    if (signature === this.signature) return;
    this.schema = this.build(served);
    this.signature = signature;
    this.logger.info({ apis: served.length }, 'GraphQL schema rebuilt for the published APIs');
    for (const listener of this.listeners) listener(this.schema);
  }

  /**
   * The schema with every served API that yields a valid one: an API whose
   * fields cannot be expressed is left out (and logged), not every API.
   */
  private build(served: readonly ServedApi[]): GraphQLSchema {
    const valid = (apis: readonly ServedApi[]): GraphQLSchema | undefined => {
      try {
        const schema = withPublishedApis(this.base, apis);
        return validateSchema(schema).length === 0 ? schema : undefined;
      } catch {
        return undefined;
      }
    };
    const schema = valid(served);
    if (schema !== undefined) return schema;
    const fit = served.filter((api) => valid([api]) !== undefined);
    const left = served.filter((api) => !fit.includes(api)).map((api) => api.definition.name);
    this.logger.error({ apis: left }, 'published APIs left out of the GraphQL schema: their fields do not make a valid schema');
    return withPublishedApis(this.base, fit);
  }
}

function signatureOf(served: readonly ServedApi[]): string {
  return JSON.stringify(served.map((a) => [a.id, a.version, a.definition.path]));
}

/** The base schema with `PublishedApis` holding one field per served API. */
export function withPublishedApis(base: GraphQLSchema, served: readonly ServedApi[]): GraphQLSchema {
  const config = base.toConfig();
  const query = base.getQueryType();
  const namespace = base.getType('PublishedApis');
  if (query === null || query === undefined || !(namespace instanceof GraphQLObjectType)) {
    throw new Error('the static schema lacks Query.published');
  }
  const nsConfig = namespace.toConfig();
  const fields: Record<string, GraphQLFieldConfig<unknown, GraphQLContext>> = { ...nsConfig.fields };
  for (const api of served) {
    const name = api.definition.name;
    if (name in fields) continue;
    fields[name] = publishedField(api.definition);
  }
  const published = new GraphQLObjectType({ ...nsConfig, fields });
  const queryConfig = query.toConfig();
  const queryField = queryConfig.fields['published'];
  if (queryField === undefined) throw new Error('the static schema lacks Query.published');
  const newQuery = new GraphQLObjectType({
    ...queryConfig,
    fields: { ...queryConfig.fields, published: { ...queryField, type: new GraphQLNonNull(published) } },
  });
  const replaced = new Set([query.name, namespace.name]);
  return new GraphQLSchema({
    ...config,
    query: newQuery,
    types: [...config.types.filter((t) => !replaced.has(t.name)), newQuery, published],
  });
}

/**
 * The GraphQL scalar of a parameter type, for arguments and row fields alike. Dates are strings both ways:
 * arguments are parsed by the API exactly as over REST (YYYY-MM-DD, ISO-8601 date-times), and rows are
 * answered as the API formats them (ISO-8601, or its dateFormat).
 */
const SCALAR: Record<ParamType, GraphQLScalarType> = {
  STRING: GraphQLString,
  INT: GraphQLInt,
  LONG: GraphQLLong,
  DOUBLE: GraphQLFloat,
  BOOLEAN: GraphQLBoolean,
  DATE: GraphQLString,
  DATETIME: GraphQLString,
};

/** GraphQL reserves names starting with "__"; a column like that stays reachable through REST only. */
const usable = (name: string) => !name.startsWith('__');

/**
 * One API as a field: arguments from its request parameters (lists for `in`
 * and `between`, non-null when required without a default, plus pageNum and
 * pageSize when it pages), a row type from its response parameters. The
 * resolver calls the API through the request's loader, which checks the grant.
 */
function publishedField(def: ApiDefinition): GraphQLFieldConfig<unknown, GraphQLContext> {
  // Three prefixes that differ before any API name starts: no two APIs' types can share a name.
  const typeName = `Api_${def.name}`;
  const params = def.responseParams.filter((p) => usable(outputName(p)));
  const row: GraphQLOutputType =
    params.length === 0
      ? GraphQLJSONObject
      : new GraphQLObjectType({
          name: typeName,
          description: `A row of ${def.path}`,
          fields: Object.fromEntries(
            params.map((p) => [outputName(p), { type: SCALAR[p.type], ...(p.description === '' ? {} : { description: p.description }) }]),
          ),
        });
  const rows = new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(row)));
  const result = def.pagination
    ? new GraphQLObjectType({
        name: `ApiPage_${def.name}`,
        fields: {
          pageNum: { type: new GraphQLNonNull(GraphQLInt) },
          pageSize: { type: new GraphQLNonNull(GraphQLInt) },
          totalNum: { type: new GraphQLNonNull(GraphQLInt), description: 'Rows matching the parameters, over all pages' },
          rows: { type: rows },
        },
      })
    : new GraphQLObjectType({
        name: `ApiRows_${def.name}`,
        fields: {
          rows: { type: rows },
          truncated: { type: new GraphQLNonNull(GraphQLBoolean), description: 'More rows matched than the API returns at most' },
          rowLimit: { type: new GraphQLNonNull(GraphQLInt) },
        },
      });

  const args: GraphQLFieldConfigArgumentMap = {};
  for (const p of def.requestParams) {
    const operator = 'operator' in p ? p.operator : '=';
    const scalar: GraphQLInputType = SCALAR[p.type];
    const list = operator === 'in' || operator === 'between';
    const base: GraphQLInputType = list ? new GraphQLList(new GraphQLNonNull(scalar)) : scalar;
    const description = [p.description, operator === 'between' ? '(two values: low, high)' : ''].filter((s) => s !== '').join(' ');
    args[p.name] = {
      type: p.required && p.default === undefined ? new GraphQLNonNull(base) : base,
      ...(description === '' ? {} : { description }),
    };
  }
  if (def.pagination) {
    args['pageNum'] = { type: GraphQLInt, description: 'Page number, from 1' };
    args['pageSize'] = { type: GraphQLInt, description: 'Rows per page, up to the server maximum' };
  }

  return {
    type: new GraphQLNonNull(result),
    description: `${def.description === '' ? def.name : def.description} (${def.method} /api${def.path})`,
    args,
    resolve: async (_source, given: Record<string, unknown>, ctx): Promise<PagedData | UnpagedData> => {
      const query: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(given)) {
        if (value === null || value === undefined) continue;
        query[name] = Array.isArray(value) ? value.map(String) : String(value);
      }
      return ctx.loaders.apiCall.load({ path: def.path, query });
    },
  };
}
