import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { AppService } from '../auth/apps.js';
import type { TokenService } from '../auth/jwt.js';
import { FLOWS_GRANT } from '../auth/grants.js';
import { RollgateError } from '../errors.js';
import { success } from './envelope.js';

export interface DashboardDeps {
  tokens: TokenService;
  appRegistry: AppService;
  /** The app whose tokens /dashboard/session hands out (DASHBOARD_APP_KEY, or the demo's app); unset: sign in. */
  sessionAppKey: string | undefined;
}

/** Where `npm run build` puts the page (src/dashboard/build.mjs), seen from src/http under tsx or dist/src/http. */
function assetDir(): string | undefined {
  const candidates = ['../../dashboard/', '../../dist/dashboard/'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  return candidates.find((dir) => existsSync(`${dir}index.html`));
}

const ASSETS = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.js.map': 'application/json; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
} as const;

/** The page may talk only to this gateway (fetch and the subscription socket); ECharts sets inline styles. */
const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

/**
 * The DataV-style dashboard: the built page at `/`, its assets under
 * `/dashboard/`, and `/dashboard/session`, which hands the page a short-lived
 * JWT of the configured dashboard app, so a wall screen needs no sign-in.
 * The page holds no data itself; every number comes from the APIs with that token.
 */
export async function registerDashboardRoutes(app: FastifyInstance, deps: DashboardDeps): Promise<void> {
  const dir = assetDir();
  const files = new Map<string, Buffer>();
  if (dir !== undefined) {
    for (const name of ['index.html', ...Object.keys(ASSETS)]) files.set(name, await readFile(`${dir}${name}`));
  }

  app.get('/', async (_request, reply) => {
    const page = files.get('index.html');
    if (page === undefined) throw new RollgateError('DEPENDENCY_UNAVAILABLE', 'the dashboard is not built: run `npm run build`');
    reply.header('content-security-policy', CSP).header('cache-control', 'no-cache').type('text/html; charset=utf-8');
    return page;
  });

  for (const [name, type] of Object.entries(ASSETS)) {
    app.get(`/dashboard/${name}`, async (_request, reply) => {
      const body = files.get(name);
      if (body === undefined) throw new RollgateError('NOT_FOUND', `the dashboard is not built: no ${name}`);
      reply.header('cache-control', 'no-cache').type(type);
      return body;
    });
  }

  app.get('/dashboard/session', async (request, reply) => {
    const appKey = deps.sessionAppKey;
    if (appKey === undefined) throw new RollgateError('NOT_FOUND', 'this gateway has no open dashboard session: sign in with an AppCode');
    const live = deps.appRegistry.findByKey(appKey);
    if (live === undefined || live.record.status !== 'enabled') {
      throw new RollgateError('NOT_FOUND', 'the dashboard app does not exist or is disabled: sign in with an AppCode');
    }
    // Anyone who opens the page gets this token: it reads what the app may read, and may not manage flows.
    const grants = live.record.grants.filter((g) => g !== FLOWS_GRANT);
    const { token, expiresAt } = deps.tokens.issue(appKey, { appKey, grants }, 'rollgate-api');
    reply.header('cache-control', 'no-store');
    return success(request.id, { token, tokenType: 'Bearer', expiresIn: deps.tokens.ttlSeconds, expiresAt: new Date(expiresAt).toISOString(), appKey });
  });
}
