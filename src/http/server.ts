import { randomUUID } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { rollups } from '../../aggregators/index.js';
import type { Config } from '../config.js';
import type { RollupService } from '../dataservice/rollup-service.js';
import { RollgateError, toRollgateError } from '../errors.js';
import type { GraphQLContext } from '../graphql/context.js';
import { formatGraphQLError } from '../graphql/format-error.js';
import { buildGraphQLSchema } from '../graphql/schema.js';
import type { Logger } from '../logger.js';
import { failure } from './envelope.js';
import type { Metrics } from '../metrics.js';
import { registerHealthRoutes, registerMetricsRoute, type DependencyCheck } from './health-routes.js';
import { registerRollupRoutes } from './rollup-routes.js';

export interface GatewayDeps {
  config: Config;
  logger: Logger;
  rollupService: RollupService;
  checks: readonly DependencyCheck[];
  metrics: Metrics;
}

/** The one HTTP server: REST DataService, GraphQL, health. */
export async function createGateway(deps: GatewayDeps): Promise<FastifyInstance> {
  const { config, logger } = deps;
  const app = Fastify({
    loggerInstance: logger.child({ component: 'http' }) as FastifyBaseLogger,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
    },
    routerOptions: { ignoreTrailingSlash: true },
  });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  app.setErrorHandler(async (error, request, reply) => {
    const rollgateError =
      error instanceof RollgateError
        ? error
        : isClientError(error)
          ? new RollgateError('INVALID_PARAMETER', error.message)
          : toRollgateError(error);
    if (rollgateError.code === 'INTERNAL') request.log.error({ err: error }, 'request failed');
    reply.code(rollgateError.httpStatus);
    return failure(request.id, rollgateError);
  });

  app.setNotFoundHandler(async (request, reply) => {
    reply.code(404);
    return failure(request.id, new RollgateError('NOT_FOUND', `no API at ${request.method} ${request.url.split('?')[0] ?? ''}`));
  });

  registerHealthRoutes(app, deps.checks);
  registerMetricsRoute(app, deps.metrics);
  registerRollupRoutes(app, { rollups, service: deps.rollupService, limits: config.api });

  const apollo = new ApolloServer<GraphQLContext>({
    schema: await buildGraphQLSchema(),
    formatError: formatGraphQLError,
    includeStacktraceInErrorResponses: config.env !== 'production',
    introspection: config.env !== 'production',
    plugins: [fastifyApolloDrainPlugin(app), ...(config.env === 'production' ? [ApolloServerPluginLandingPageDisabled()] : [])],
  });
  await apollo.start();
  await app.register(fastifyApollo(apollo), {
    path: '/graphql',
    context: async (request) => ({ rollups: deps.rollupService, limits: config.api, requestId: request.id }),
  });

  app.get('/', async (_request, reply) => {
    reply.type('text/html; charset=utf-8');
    return indexPage();
  });

  return app;
}

function isClientError(error: unknown): error is Error {
  const status = (error as { statusCode?: unknown }).statusCode;
  return error instanceof Error && typeof status === 'number' && status >= 400 && status < 500;
}

function indexPage(): string {
  const links = rollups.map((r) => `<li><a href="/api/${r.name}">/api/${r.name}</a> — ${r.description}</li>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>rollgate</title></head>
<body style="font-family:system-ui;background:#0b1221;color:#d6e2ff;padding:2rem">
<h1>rollgate</h1><p>Streaming rollups served over REST and GraphQL.</p>
<ul>${links}<li><a href="/graphql">/graphql</a> — GraphQL</li><li><a href="/readyz">/readyz</a> — readiness</li></ul>
</body></html>`;
}
