import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiService } from '../dataservice/api-service.js';
import type { RawRequest } from '../dataservice/bind-request.js';
import type { DataSources } from '../dataservice/data-sources.js';
import { invalidParameter, RollgateError } from '../errors.js';
import type { Config } from '../config.js';
import { success } from './envelope.js';

interface AdminDeps {
  token: string | undefined;
  apis: ApiService;
  dataSources: DataSources;
  limits: Config['api'];
}

type IdParams = { id: string };
type NameParams = { name: string };

/**
 * `/admin/datasources` and `/admin/apis`, behind `Authorization: Bearer
 * <ROLLGATE_ADMIN_TOKEN>`. Handlers only check the call and hand it to the
 * services; answers use the DataService envelope.
 */
export async function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps): Promise<void> {
  await app.register(async (admin) => {
    admin.addHook('onRequest', async (request) => authorize(request, deps.token));
    const operator = (request: FastifyRequest): string | undefined => {
      const given = request.headers['x-rollgate-operator'];
      return typeof given === 'string' && /^[\w.@-]{1,100}$/.test(given) ? given : 'admin';
    };

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
      return success(request.id, { data: result.data, sql: result.sql, timingMs: result.timingMs });
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

function authorize(request: FastifyRequest, token: string | undefined): void {
  if (token === undefined) throw new RollgateError('UNAUTHENTICATED', 'the admin API is disabled: set ROLLGATE_ADMIN_TOKEN to enable it');
  const header = request.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (match === null) throw new RollgateError('UNAUTHENTICATED', 'admin calls need Authorization: Bearer <ROLLGATE_ADMIN_TOKEN>');
  // Compare digests: equal length, so timingSafeEqual cannot throw or leak the token's length.
  const given = createHash('sha256').update(match[1] ?? '').digest();
  const expected = createHash('sha256').update(token).digest();
  if (!timingSafeEqual(given, expected)) throw new RollgateError('UNAUTHENTICATED', 'wrong admin token');
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
