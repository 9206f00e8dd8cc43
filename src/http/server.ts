import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { RollgateError, toRollgateError } from '../errors.js';
import type { Logger } from '../logger.js';
import { failure } from './envelope.js';
import type { Metrics } from '../metrics.js';
import { registerHealthRoutes, registerMetricsRoute, type DependencyCheck } from './health-routes.js';
import { registerApiRoutes } from './api-routes.js';
import { registerAdminRoutes } from './admin-routes.js';
import type { DataService } from '../dataservice/data-service.js';
import { openApiDocument } from '../dataservice/openapi.js';
import type { Redis } from 'ioredis';
import { Authenticator, TIMESTAMP_WINDOW_MS } from '../auth/authenticator.js';
import { registerHttpAuth } from '../auth/http-auth.js';
import { NonceStore } from '../auth/nonce-store.js';
import { AppRateLimiter, FailureThrottle } from '../auth/rate-limit.js';
import type { MonitorCollector } from '../ingest/monitor/collector.js';
import { registerMonitorRoutes } from './monitor-routes.js';
import { registerDashboardRoutes } from './dashboard-routes.js';
import { clientWentAway } from './client-gone.js';
import { registerFlowRoutes } from './flow-routes.js';
import { LocalLiveUpdates, type LiveUpdates } from '../live/live-updates.js';
import { registerGraphQLWs } from './graphql-ws.js';
import { registerGraphQL } from './graphql-route.js';
import { buildGraphQLSchema } from '../graphql/schema.js';
import { createContext } from '../graphql/context.js';

export interface GatewayDeps {
  config: Config;
  logger: Logger;
  checks: readonly DependencyCheck[];
  metrics: Metrics;
  dataService: DataService;
  /** Shared nonces and rate-limit counters; absent means per-process (embedded mode). */
  redis?: Redis | undefined;
  /** The browser monitor collector at /monitor/upload; absent, the route is not served. */
  monitor?: MonitorCollector;
  /** What GraphQL subscriptions listen to (Redis pub/sub across instances); absent, an in-process one (embedded). */
  live?: LiveUpdates | undefined;
}

/** Largest request body accepted (POST API parameters, admin definitions); beyond it, 413. */
const BODY_LIMIT_BYTES = 1024 * 1024;

/** The one HTTP server: REST DataService, GraphQL, health. */
export async function createGateway(deps: GatewayDeps): Promise<FastifyInstance> {
  const { config, logger } = deps;
  const app = Fastify({
    loggerInstance: logger.child({ component: 'http' }, { serializers: { req: requestForLog } }) as FastifyBaseLogger,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
    },
    // Seed 000's client joins a base URL ending in / with paths starting with /: `.../v3//dataflow/...`.
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    bodyLimit: BODY_LIMIT_BYTES,
    // A client that trickles its headers or body would hold a socket and a body buffer forever (Fastify's default
    // is no limit); Node checks the deadline every connectionsCheckingInterval, so check often enough to keep it.
    requestTimeout: config.http.requestTimeoutMs,
    http: { headersTimeout: Math.min(config.http.requestTimeoutMs, 60_000), connectionsCheckingInterval: Math.min(1000, config.http.requestTimeoutMs) },
    // request.ip is the socket's peer unless that peer is a configured proxy: X-Forwarded-For is not taken from anyone else.
    trustProxy: config.auth.trustedProxies.length > 0 ? config.auth.trustedProxies : false,
  });

  // A flood of idle sockets costs memory and file descriptors before any request is read: past this, Node
  // closes new connections at once.
  app.server.maxConnections = config.http.maxConnections;

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  app.setErrorHandler(async (error, request, reply) => {
    if (clientWentAway(request, error)) {
      // Nothing to answer and nothing wrong here: the client closed the connection before its request was in.
      request.log.info({ url: request.routeOptions.url }, 'client closed the connection before the request was complete');
      return reply.code(499).send();
    }
    const rollgateError =
      error instanceof RollgateError
        ? error
        : statusOf(error) === 413
          ? new RollgateError('PAYLOAD_TOO_LARGE', `the request body is larger than ${BODY_LIMIT_BYTES} bytes`)
          : isClientError(error)
            ? new RollgateError('INVALID_PARAMETER', error.message)
            : toRollgateError(error);
    if (rollgateError.code === 'INTERNAL') request.log.error({ err: error }, 'request failed');
    if (rollgateError.httpStatus === 401 || rollgateError.httpStatus === 403 || rollgateError.headerMessage !== undefined) {
      reply.header('x-ca-error-message', asciiHeader(rollgateError.headerMessage ?? rollgateError.message));
    }
    if (rollgateError.retryAfterSeconds !== undefined) reply.header('retry-after', String(rollgateError.retryAfterSeconds));
    reply.code(rollgateError.httpStatus);
    return failure(request.id, rollgateError);
  });

  app.setNotFoundHandler(async (request, reply) => {
    reply.code(404);
    return failure(request.id, new RollgateError('NOT_FOUND', `no API at ${request.method} ${request.url.split('?')[0] ?? ''}`));
  });

  const { apis, dataSources, cache, appRegistry, tokens } = deps.dataService;
  const nonces = new NonceStore(deps.redis, 'rollgate:nonce:', 2 * TIMESTAMP_WINDOW_MS, logger.child({ component: 'nonces' }));
  const limiter = new AppRateLimiter(deps.redis, 'rollgate:rl:');
  const failures = new FailureThrottle(deps.redis, 'rollgate:authfail:', config.auth.failuresPerMinute);
  const authenticator = new Authenticator(appRegistry, nonces, limiter, tokens, failures);
  registerHttpAuth(app, { authenticator, tokens, adminToken: config.admin.token, bodyLimit: BODY_LIMIT_BYTES });
  registerHealthRoutes(app, deps.checks, () => [
    ...(nonces.degraded ? ['nonces: per process (redis unreachable)'] : []),
    ...(limiter.degraded ? ['rate limits: per process (redis unreachable)'] : []),
  ]);
  registerMetricsRoute(app, deps.metrics);
  registerApiRoutes(app, { apis, cache, metrics: deps.metrics, limits: config.api });
  await registerAdminRoutes(app, { token: config.admin.token, tokens, apis, dataSources, appRegistry, limits: config.api });
  if (deps.monitor !== undefined) await registerMonitorRoutes(app, deps.monitor);
  await registerFlowRoutes(app, deps.dataService.flows, authenticator);
  app.get('/openapi.json', async () => openApiDocument(apis.served(), { version: `catalog-${apis.catalogRevision}` }));

  // The schema of every GraphQL transport is live.current(): the static one plus the published APIs' fields.
  const graphqlServices = { apis, cache, dataSources, apps: appRegistry, limits: config.api };
  const schema = await buildGraphQLSchema({ pubSub: (deps.live ?? new LocalLiveUpdates()).pubSub });
  const live = await registerGraphQL(app, { config, logger, schema, services: graphqlServices, redis: deps.redis });
  registerGraphQLWs(app, {
    schema: () => live.current(),
    authenticator,
    context: (principal, requestId) => createContext(graphqlServices, { requestId, principal, admin: false }),
    maxSubscriptions: config.graphqlWs.maxSubscriptions,
    maxConnections: config.graphqlWs.maxConnections,
    maxConnectionsPerApp: config.graphqlWs.maxConnectionsPerApp,
    trustedProxies: config.auth.trustedProxies,
    logger: logger.child({ component: 'graphql-ws' }),
    metrics: deps.metrics,
  });

  await registerDashboardRoutes(app, { tokens, appRegistry, sessionAppKey: config.dashboard.appKey });

  return app;
}

/** What a request log line shows: never an appCode or a flow call's bk_app_secret sent in the query (headers are not logged at all). */
function requestForLog(req: { method?: string; url?: string; ip?: string }): Record<string, string | undefined> {
  return { method: req.method, url: req.url === undefined ? undefined : redactQuery(req.url), remoteAddress: req.ip };
}

const SECRET_PARAMS = new Set(['appcode', 'bk_app_secret']);

/**
 * Judges each parameter by its decoded, lower-cased name, as the server reads it:
 * `app%43ode` and `bk%5Fapp%5Fsecret` are the same parameters as `appCode` and `bk_app_secret`.
 */
function redactQuery(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const params = url.slice(at + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    return SECRET_PARAMS.has(decodeName(name).toLowerCase()) ? `${name}=[redacted]` : pair;
  });
  return `${url.slice(0, at)}?${params.join('&')}`;
}

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function isClientError(error: unknown): error is Error {
  const status = statusOf(error);
  return error instanceof Error && status !== undefined && status >= 400 && status < 500;
}

/** Header values must be visible ASCII; anything else is percent-encoded rather than failing the response. */
function asciiHeader(text: string): string {
  return text.replace(/[^\x20-\x7e]/gu, (c) => encodeURIComponent(c)).slice(0, 8192);
}
