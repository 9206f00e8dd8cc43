import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiService } from '../dataservice/api-service.js';
import type { RawRequest } from '../dataservice/bind-request.js';
import type { ResultCache } from '../dataservice/result-cache.js';
import { RollgateError, toRollgateError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Config } from '../config.js';
import { success } from './envelope.js';
import { authorize } from '../auth/authenticator.js';

/**
 * `GET|POST /api/<path>`: every published DataService API, looked up in the
 * route table at call time so publishing and taking offline need no restart.
 * The answer is the envelope, or with DataV mode the bare row array.
 */
export function registerApiRoutes(app: FastifyInstance, deps: { apis: ApiService; cache: ResultCache; metrics: Metrics; limits: Config['api'] }): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.slice('/api'.length).split('?')[0] ?? '';
    const api = deps.apis.route(path.length > 1 ? path.replace(/\/+$/, '') : path);
    if (api === undefined) throw new RollgateError('NOT_FOUND', `no published API at /api${path}`);
    authorize(request.principal, api.definition);
    const timer = deps.metrics.apiCalls.startTimer({ api: api.definition.name });
    try {
      const method = request.method === 'HEAD' ? 'GET' : request.method;
      if (method !== api.definition.method) {
        reply.header('allow', api.definition.method);
        throw new RollgateError('METHOD_NOT_ALLOWED', `${api.definition.name} takes ${api.definition.method}, not ${request.method}`);
      }
      const raw: RawRequest = { query: request.query as RawRequest['query'], body: request.method === 'POST' ? request.body : undefined };
      const result = await deps.apis.call(api, raw, { limits: deps.limits, cache: deps.cache });
      reply.header('x-rollgate-cache', result.cache);
      reply.header('x-rollgate-api-version', String(api.version));
      timer({ errCode: '0' });
      return result.format === 'datav' ? result.data.rows : success(request.id, result.data);
    } catch (err) {
      timer({ errCode: String(toRollgateError(err).errCode) });
      throw err;
    }
  };
  app.get('/api/*', handler);
  app.post('/api/*', handler);
}
