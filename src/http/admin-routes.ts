import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiService } from '../dataservice/api-service.js';
import type { RawRequest } from '../dataservice/bind-request.js';
import type { DataSources } from '../dataservice/data-sources.js';
import { invalidParameter, RollgateError } from '../errors.js';
import type { Config } from '../config.js';
import { success } from './envelope.js';
import type { AppService } from '../auth/apps.js';
import type { TokenService } from '../auth/jwt.js';
import { bearerToken, isAdminToken } from '../auth/admin-auth.js';

interface AdminDeps {
  token: string | undefined;
  tokens: TokenService;
  appRegistry: AppService;
  apis: ApiService;
  dataSources: DataSources;
  limits: Config['api'];
}

type IdParams = { id: string };
type NameParams = { name: string };
type AppParams = { appKey: string };

/**
 * `/admin/datasources` and `/admin/apis`, behind `Authorization: Bearer
 * <ROLLGATE_ADMIN_TOKEN>`. Handlers only check the call and hand it to the
 * services; answers use the DataService envelope.
 */
export async function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps): Promise<void> {
  await app.register(async (admin) => {
    admin.addHook('onRequest', async (request) => authorize(request, deps.token, deps.tokens));
    const operator = (request: FastifyRequest): string | undefined => {
      const given = request.headers['x-rollgate-operator'];
      return typeof given === 'string' && /^[\w.@-]{1,100}$/.test(given) ? given : 'admin';
    };

    // A short-lived admin JWT, for dashboards that should not hold the admin token itself; only the token issues one.
    admin.post('/token', async (request) => {
      if (!presentsAdminToken(request, deps.token)) throw new RollgateError('UNAUTHENTICATED', 'only the admin token can issue admin tokens');
      const { token, expiresAt } = deps.tokens.issue('admin', { role: 'admin' }, 'rollgate-admin');
      return success(request.id, { token, tokenType: 'Bearer', expiresIn: deps.tokens.ttlSeconds, expiresAt: new Date(expiresAt).toISOString() });
    });

    // Apps: appSecret and appCode appear only in the answers of create and rotate.
    admin.get('/apps', async (request) => success(request.id, await deps.appRegistry.list()));
    admin.post('/apps', async (request, reply) => {
      reply.code(201);
      return success(request.id, await deps.appRegistry.create(request.body));
    });
    admin.get<{ Params: AppParams }>('/apps/:appKey', async (request) => success(request.id, await deps.appRegistry.get(request.params.appKey)));
    admin.put<{ Params: AppParams }>('/apps/:appKey', async (request) => success(request.id, await deps.appRegistry.update(request.params.appKey, request.body)));
    admin.post<{ Params: AppParams }>('/apps/:appKey/disable', async (request) =>
      success(request.id, await deps.appRegistry.setStatus(request.params.appKey, 'disabled')),
    );
    admin.post<{ Params: AppParams }>('/apps/:appKey/enable', async (request) =>
      success(request.id, await deps.appRegistry.setStatus(request.params.appKey, 'enabled')),
    );
    admin.post<{ Params: AppParams }>('/apps/:appKey/rotate', async (request) => success(request.id, await deps.appRegistry.rotate(request.params.appKey)));

    // Data sources
    admin.get('/datasources', async (request) => success(request.id, await deps.dataSources.list()));
    admin.post('/datasources', async (request, reply) => {
      reply.code(201);
      return success(request.id, await deps.dataSources.create(request.body));
    });
    admin.post('/datasources/test', async (request) => success(request.id, await deps.dataSources.test(request.body ?? {})));
    admin.get<{ Params: NameParams }>('/datasources/:name', async (request) => success(request.id, await deps.dataSources.get(request.params.name)));
    admin.put<{ Params: NameParams }>('/datasources/:name', async (request) =>
      success(request.id, await deps.dataSources.update(request.params.name, request.body)),
    );
    admin.delete<{ Params: NameParams }>('/datasources/:name', async (request) => {
      await deps.dataSources.remove(request.params.name);
      return success(request.id, { deleted: request.params.name });
    });
    admin.post<{ Params: NameParams }>('/datasources/:name/test', async (request) => success(request.id, await deps.dataSources.test(request.params.name)));

    // APIs
    admin.get<{ Querystring: Record<string, string | undefined> }>('/apis', async (request) => {
      const { group, status, name } = request.query;
      return success(request.id, await deps.apis.list({ group, status, name }));
    });
    admin.post('/apis', async (request, reply) => {
      reply.code(201);
      return success(request.id, await deps.apis.create(request.body, operator(request)));
    });
    admin.get<{ Params: IdParams }>('/apis/:id', async (request) => success(request.id, await deps.apis.get(request.params.id)));
    admin.put<{ Params: IdParams }>('/apis/:id', async (request) =>
      success(request.id, await deps.apis.update(request.params.id, request.body, operator(request))),
    );
    admin.delete<{ Params: IdParams }>('/apis/:id', async (request) => {
      await deps.apis.remove(request.params.id);
      return success(request.id, { deleted: request.params.id });
    });
    // The body is the parameters, as a POST caller of the API would send them; `query` holds query-string ones.
    admin.post<{ Params: IdParams; Body: unknown }>('/apis/:id/test', async (request) => {
      const raw = testRequest(request.body);
      const result = await deps.apis.test(request.params.id, raw, { limits: deps.limits });
      return success(request.id, { data: result.data, sql: result.sql(), timingMs: result.timingMs });
    });
    admin.post<{ Params: IdParams }>('/apis/:id/publish', async (request) => success(request.id, await deps.apis.publish(request.params.id, operator(request))));
    admin.post<{ Params: IdParams }>('/apis/:id/offline', async (request) => success(request.id, await deps.apis.offline(request.params.id, operator(request))));
    admin.get<{ Params: IdParams }>('/apis/:id/versions', async (request) => success(request.id, await deps.apis.versions(request.params.id)));
    admin.get<{ Params: IdParams & { version: string } }>('/apis/:id/versions/:version', async (request) => {
      const version = Number(request.params.version);
      if (!Number.isSafeInteger(version) || version < 1) throw invalidParameter('version', 'version must be a positive integer');
      return success(request.id, await deps.apis.version(request.params.id, version));
    });
    admin.post<{ Params: IdParams; Body: { version?: unknown } | undefined }>('/apis/:id/rollback', async (request) =>
      success(request.id, await deps.apis.rollback(request.params.id, request.body?.version, operator(request))),
    );
  }, { prefix: '/admin' });
}

/** The admin token, or an admin JWT issued by POST /admin/token. */
function authorize(request: FastifyRequest, token: string | undefined, tokens: TokenService): void {
  if (token === undefined) throw new RollgateError('UNAUTHENTICATED', 'the admin API is disabled: set ROLLGATE_ADMIN_TOKEN to enable it');
  const bearer = bearerOf(request);
  if (bearer === undefined) throw new RollgateError('UNAUTHENTICATED', 'admin calls need Authorization: Bearer <ROLLGATE_ADMIN_TOKEN or an admin JWT>');
  if (presentsAdminToken(request, token)) return;
  // Three dot-separated parts: a JWT; anything else is a wrong admin token.
  if (bearer.split('.').length === 3) {
    tokens.verify(bearer, 'rollgate-admin');
    return;
  }
  throw new RollgateError('UNAUTHENTICATED', 'wrong admin token');
}

function bearerOf(request: FastifyRequest): string | undefined {
  return bearerToken(request.headers.authorization);
}

function presentsAdminToken(request: FastifyRequest, token: string | undefined): boolean {
  return isAdminToken(bearerOf(request), token);
}

function testRequest(body: unknown): RawRequest {
  if (body === undefined || body === null) return { query: {} };
  if (typeof body !== 'object' || Array.isArray(body)) throw invalidParameter('body', 'the test body must be a JSON object of parameters');
  const { query, body: inner, ...rest } = body as Record<string, unknown>;
  const q: RawRequest['query'] = {};
  for (const [k, v] of Object.entries({ ...rest, ...(typeof query === 'object' && query !== null ? query : {}) })) {
    if (typeof v === 'string') q[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') q[k] = String(v);
    else if (Array.isArray(v)) q[k] = v.map(String);
  }
  return { query: q, body: inner };
}
