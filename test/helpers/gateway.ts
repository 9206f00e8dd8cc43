import { pino, type Logger } from 'pino';
import { expect } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { rollups } from '../../aggregators/index.js';
import { MemoryCache } from '../../src/cache/cache.js';
import { LocalRevisions } from '../../src/cache/rollup-revisions.js';
import { LocalLiveUpdates } from '../../src/live/live-updates.js';
import { loadConfig } from '../../src/config.js';
import { DuckDbClient } from '../../src/dataservice/catalog/sql-client.js';
import { builtinDataSources } from '../../src/dataservice/builtins.js';
import { createDataService, type DataService } from '../../src/dataservice/data-service.js';
import { Metrics } from '../../src/metrics.js';
import type { DependencyCheck } from '../../src/http/health-routes.js';
import { createGateway } from '../../src/http/server.js';
import { Runtime } from '../../src/runtime.js';
import type { DuckDbStore } from '../../src/store/duckdb-store.js';
import { uniqueName } from './events.js';
import { TEST_AUTH_FAILURES, TEST_MASTER_KEY } from './test-env.js';

export const silentLogger = pino({ level: 'silent' });

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

/** The bootstrap app every test gateway starts with: granted every built-in API. */
export const TEST_APP = {
  appKey: 'test-app-key-0001',
  appSecret: 'test-app-secret-0123456789abcdef',
  appCode: 'test-app-code-0123456789abcdef',
} as const;

/** The environment that makes `rollgate serve|demo` (or a test gateway) create TEST_APP at start-up. */
export const TEST_APP_ENV = {
  ROLLGATE_BOOTSTRAP_APP_KEY: TEST_APP.appKey,
  ROLLGATE_BOOTSTRAP_APP_SECRET: TEST_APP.appSecret,
  ROLLGATE_BOOTSTRAP_APP_CODE: TEST_APP.appCode,
};

/** Besides the built-in APIs, TEST_APP may call the API groups tests publish in. */
const TEST_GROUPS = ['group:default', 'group:shop'];

async function grantTestGroups(dataService: DataService): Promise<void> {
  const current = await dataService.appRegistry.get(TEST_APP.appKey);
  await dataService.appRegistry.update(TEST_APP.appKey, { grants: [...new Set([...current.grants, ...TEST_GROUPS])] });
}

/** Headers that authenticate a call of /api or /graphql as TEST_APP. */
export const appHeaders = { authorization: `APPCODE ${TEST_APP.appCode}` };

/**
 * A gateway on an embedded DuckDB store, for `app.inject()`: the built-in
 * rollup APIs read that store, the catalog lives in it, the cache is in-process.
 */
export async function testGateway(
  store: DuckDbStore,
  checks: DependencyCheck[] = [],
  env: Record<string, string> = {},
  logger: Logger = silentLogger,
): Promise<FastifyInstance & { revisions: LocalRevisions; live: LocalLiveUpdates }> {
  const config = loadConfig({ CACHE_TTL_MS: '0', CACHE_ROLLUP_TTL_MS: '0', ROLLGATE_ADMIN_TOKEN: TEST_ADMIN_TOKEN, ROLLGATE_MASTER_KEY: TEST_MASTER_KEY, AUTH_FAILURES_PER_MINUTE: TEST_AUTH_FAILURES, LOG_LEVEL: 'silent', ...TEST_APP_ENV, ...env });
  const metrics = new Metrics({ defaultMetrics: false });
  const revisions = new LocalRevisions();
  const live = new LocalLiveUpdates();
  const catalog = await DuckDbClient.open(store.database);
  const dataService = await createDataService({
    config,
    logger,
    metrics,
    catalog,
    sharedCache: new MemoryCache(),
    revisions,
    builtinSources: builtinDataSources(config, async () => store.database),
    rollups,
  });
  if (config.auth.bootstrapApp?.appKey === TEST_APP.appKey) await grantTestGroups(dataService);
  const app = await createGateway({
    config,
    logger,
    checks,
    metrics,
    dataService,
    live,
  });
  app.addHook('onClose', async () => {
    await dataService.close();
    await catalog.close();
  });
  await app.ready();
  return Object.assign(app, { revisions, live });
}

export const adminHeaders = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

export interface CreatedApp {
  appKey: string;
  appSecret: string;
  appCode: string;
}

/** An app of its own for one test, through the admin API (its own appKey, so its own rate-limit keys in Redis). */
export async function createApp(gateway: FastifyInstance, body: Record<string, unknown>): Promise<CreatedApp> {
  const res = await gateway.inject({ method: 'POST', url: '/admin/apps', headers: adminHeaders, payload: { name: uniqueName('test-app'), ...body } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().data as CreatedApp;
}

export interface GraphQLResponse<T> {
  data?: T;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

/**
 * A gateway composed exactly as `rollgate serve` composes it (Runtime), on
 * the services `env` names, for `app.inject()` against the real stack.
 */
export async function stackGateway(env: Record<string, string>): Promise<{ app: FastifyInstance; rt: Runtime }> {
  const config = loadConfig({ LOG_LEVEL: 'silent', ROLLGATE_ADMIN_TOKEN: TEST_ADMIN_TOKEN, ROLLGATE_MASTER_KEY: TEST_MASTER_KEY, AUTH_FAILURES_PER_MINUTE: TEST_AUTH_FAILURES, ...TEST_APP_ENV, ...env });
  const rt = new Runtime(config, silentLogger);
  const dataService = await rt.getDataService();
  if (config.auth.bootstrapApp?.appKey === TEST_APP.appKey) await grantTestGroups(dataService);
  const app = await createGateway({
    config,
    logger: silentLogger,
    checks: rt.checks,
    metrics: rt.metrics,
    dataService,
    redis: await rt.getAuthRedis(),
  });
  app.addHook('onClose', () => rt.close());
  await app.ready();
  return { app, rt };
}
