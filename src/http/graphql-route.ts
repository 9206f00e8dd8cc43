import { ApolloServer, type ApolloServerOptionsWithGateway, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import { GraphQLError, printSchema, type GraphQLSchema } from 'graphql';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { createContext, type ContextServices, type GraphQLContext } from '../graphql/context.js';
import { formatGraphQLError } from '../graphql/format-error.js';
import { costLimitPlugin, fieldLimit, limitRules, MAX_VARIABLE_DEPTH, nestingDepth } from '../graphql/limits.js';
import { LiveSchema } from '../graphql/live-schema.js';
import { RedisApqCache } from '../graphql/apq-cache.js';
import type { Logger } from '../logger.js';

/** How long an automatic persisted query is remembered after its last registration. */
const APQ_TTL_SECONDS = 24 * 3600;

/**
 * GraphQL over HTTP at /graphql (GET and POST; application/graphql-response+json
 * and application/json), served by Apollo Server, which passes graphql-http's
 * compliance audit. The schema is the LiveSchema's current one: Apollo takes
 * it through its gateway interface, which exists to swap schemas without a
 * restart. Limits refuse an operation before anything executes: the number
 * of fields before Apollo sees it, tokens when parsing, depth, aliases and
 * directives as validation rules, the cost once the variables are known.
 */
export async function registerGraphQL(
  app: FastifyInstance,
  deps: {
    config: Config;
    logger: Logger;
    /** The static schema (buildGraphQLSchema); published-API fields are added to it here, as the catalog changes. */
    schema: GraphQLSchema;
    services: ContextServices;
    /** Shares automatic persisted queries between instances; absent, each instance keeps its own. */
    redis?: Redis | undefined;
  },
): Promise<LiveSchema> {
  const { config } = deps;
  const live = new LiveSchema(deps.schema, deps.services.apis, deps.logger.child({ component: 'graphql' }));
  const production = config.env === 'production';
  const apollo = new ApolloServer<GraphQLContext>({
    gateway: liveGateway(live),
    formatError: formatGraphQLError,
    includeStacktraceInErrorResponses: !production,
    introspection: config.graphql.introspection,
    // Without introspection, "Did you mean …" in validation errors would hand out the field names it hides.
    hideSchemaDetailsFromClientErrors: !config.graphql.introspection,
    validationRules: limitRules(config.graphql),
    parseOptions: { maxTokens: config.graphql.maxTokens },
    // CSRF needs ambient credentials; every /graphql call carries its own (Authorization, a signature, an appCode),
    // never a cookie, so a plain GET with ?query= works as the GraphQL-over-HTTP spec describes.
    csrfPrevention: false,
    // One operation per request: an array of operations would multiply every limit by its length.
    allowBatchedHttpRequests: false,
    // Automatic persisted queries: in Redis, shared by every instance; without it in Apollo's bounded in-process
    // cache, where a hash another instance registered answers PERSISTED_QUERY_NOT_FOUND and the client sends the
    // query once more.
    persistedQueries: {
      ttl: APQ_TTL_SECONDS,
      ...(deps.redis === undefined ? {} : { cache: new RedisApqCache(deps.redis, 'rollgate:apq:', deps.logger.child({ component: 'graphql' })) }),
    },
    plugins: [
      fastifyApolloDrainPlugin(app),
      costLimitPlugin(config.graphql.maxCost, config.api),
      legacyJsonStatus(),
      ApolloServerPluginCacheControlDisabled(),
      noStore(),
      ...(production ? [ApolloServerPluginLandingPageDisabled()] : []),
    ],
  });
  await apollo.start();
  app.addHook('onClose', async () => live.stop());
  const tooManyFields = fieldLimit(config.graphql);
  app.addHook('preHandler', async (request, reply) => {
    if (request.routeOptions.url !== '/graphql') return;
    const params = request.method === 'GET' ? request.query : request.body;
    const source = querySource(params);
    const refusal = tooDeepVariables(params) ?? (source === undefined ? undefined : tooManyFields(source));
    if (refusal === undefined) return;
    // Answered as Apollo answers a request error: 400 under graphql-response+json, 200 under legacy JSON.
    const modern = (request.headers.accept ?? '').includes('application/graphql-response+json');
    const formatted = formatGraphQLError({ message: refusal.message, extensions: refusal.extensions }, refusal);
    return reply
      .code(modern ? 400 : 200)
      .type(modern ? 'application/graphql-response+json; charset=utf-8' : 'application/json; charset=utf-8')
      .send(JSON.stringify({ errors: [formatted] }));
  });
  await app.register(fastifyApollo(apollo), {
    path: '/graphql',
    context: async (request) => createContext(deps.services, { requestId: request.id, principal: request.principal, admin: request.admin }),
  });
  return live;
}

/** `variables` nested beyond MAX_VARIABLE_DEPTH (a JSON object, or in a GET the JSON text of one): refused before anyone walks them. */
function tooDeepVariables(params: unknown): GraphQLError | undefined {
  let variables = typeof params === 'object' && params !== null && !Array.isArray(params) ? (params as Record<string, unknown>)['variables'] : undefined;
  if (typeof variables === 'string') {
    try {
      variables = JSON.parse(variables);
    } catch {
      return undefined; // Apollo answers malformed variables itself.
    }
  }
  if (nestingDepth(variables) <= MAX_VARIABLE_DEPTH) return undefined;
  return new GraphQLError(`variables nest deeper than ${MAX_VARIABLE_DEPTH} levels`, { extensions: { code: 'BAD_USER_INPUT' } });
}

/** The `query` of a GraphQL request (query string or JSON body), if it has one. */
function querySource(params: unknown): string | undefined {
  const query = typeof params === 'object' && params !== null && !Array.isArray(params) ? (params as Record<string, unknown>)['query'] : undefined;
  return typeof query === 'string' ? query : undefined;
}

/** LiveSchema as Apollo's gateway: Apollo executes on the schema itself (no executor) and follows its changes. */
function liveGateway(live: LiveSchema): ApolloServerOptionsWithGateway<GraphQLContext>['gateway'] {
  return {
    load: async () => ({ executor: null }),
    onSchemaLoadOrUpdate: (callback) => {
      const announce = (schema: GraphQLSchema) => callback({ apiSchema: schema, coreSupergraphSdl: printSchema(schema) });
      announce(live.current());
      return live.onChange(announce);
    },
    stop: async () => live.stop(),
  };
}

/**
 * `Cache-Control: no-store` on every response, which is what Apollo's cache-control plugin answered here:
 * no type or field carries a cache hint, so every operation was uncacheable. That plugin computed a policy
 * for every resolved field (and made Apollo wrap every resolver to do so), ~0.17 ms of CPU per request
 * of 20 rows, only to arrive at this constant.
 */
function noStore(): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          response.http.headers.set('cache-control', 'no-store');
        },
      };
    },
  };
}

/**
 * GraphQL over HTTP: a client that accepts only application/json (the legacy
 * media type) SHOULD get 200 for a request error (parse, validation, variable
 * coercion), since intermediaries cannot tell those from transport errors.
 * Apollo answers 400 there; application/graphql-response+json keeps the 400.
 */
function legacyJsonStatus(): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart({ request }) {
      const accept = request.http?.headers.get('accept') ?? '';
      if (accept.includes('application/graphql-response+json')) return;
      return {
        async willSendResponse({ response }) {
          const body = response.body;
          if (response.http.status === 400 && body.kind === 'single' && body.singleResult.data === undefined) response.http.status = 200;
        },
      };
    },
  };
}
