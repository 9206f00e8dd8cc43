import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RollgateError, toRollgateError } from '../errors.js';
import { FlowSqlError } from '../flows/compile-sql.js';
import { clientWentAway } from './client-gone.js';
import type { Authenticator } from '../auth/authenticator.js';
import { flowCredentials, type FlowService } from '../flows/flow-service.js';

/** The seed's DataFlow envelope: `code` is "1500200" on success, the rollgate errCode as text on failure. */
export interface FlowEnvelope<T> {
  result: boolean;
  code: string;
  message: string;
  data: T | null;
  errors: { code: string; field: string | null; line?: number; column?: number } | null;
}

export const FLOW_OK_CODE = '1500200';

function ok<T>(data: T): FlowEnvelope<T> {
  return { result: true, code: FLOW_OK_CODE, message: 'ok', data, errors: null };
}

function failed(error: RollgateError): FlowEnvelope<never> {
  const position = error instanceof FlowSqlError && error.position !== undefined ? { line: error.position.line, column: error.position.column } : {};
  return { result: false, code: String(error.errCode), message: error.message, data: null, errors: { code: error.code, field: error.field ?? null, ...position } };
}

/**
 * Where the flow routes answer: at the root (a client whose base URL is the
 * gateway) and under the BlueKing API gateway path the seed's BK_DATA_URL
 * ends with, so its scripts run with only the host changed.
 */
export const FLOW_ROUTE_PREFIXES = ['/dataflow/flow/flows', '/api/c/compapi/data/v3/dataflow/flow/flows'] as const;

/**
 * Thin handlers: authenticate from the request's bk_app_code / bk_app_secret under the app's policy (status,
 * IP allowlist, rate limit, as on /api), call the service, wrap in the envelope.
 */
export async function registerFlowRoutes(app: FastifyInstance, flows: FlowService, authenticator: Authenticator): Promise<void> {
  for (const prefix of FLOW_ROUTE_PREFIXES) {
    await app.register(
      async (scope) => {
        scope.setErrorHandler(async (error, request, reply) => {
          if (clientWentAway(request, error)) {
            request.log.info('client closed the connection before the request was complete');
            return reply.code(499).send();
          }
          const e =
            error instanceof RollgateError
              ? error
              : typeof (error as { statusCode?: unknown }).statusCode === 'number' && (error as { statusCode: number }).statusCode < 500
                ? new RollgateError((error as { statusCode: number }).statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : 'INVALID_PARAMETER', (error as Error).message)
                : toRollgateError(error);
          if (e.code === 'INTERNAL') request.log.error({ err: error }, 'flow request failed');
          if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(e.retryAfterSeconds));
          reply.code(e.httpStatus);
          return failed(e);
        });
        scope.setNotFoundHandler(async (request, reply) => {
          reply.code(404);
          return failed(new RollgateError('NOT_FOUND', `no flow API at ${request.method} ${request.url.split('?')[0] ?? ''}`));
        });

        const operator = async (request: FastifyRequest): Promise<string> => {
          const credentials = flowCredentials(credentialsOf(request));
          const principal = await authenticator.authenticateSecret(credentials.bk_app_code, credentials.bk_app_secret, request.ip);
          return flows.operator(principal, credentials);
        };

        scope.post('/create', async (request) => ok(await flows.create(request.body, await operator(request))));
        scope.post('/import', async (request) => ok(await flows.create(request.body, await operator(request))));
        scope.get('/:flow_id', async (request) => {
          await operator(request);
          return ok(await flows.get(flowId(request)));
        });
        scope.delete('/:flow_id', async (request) => {
          await operator(request);
          return ok(await flows.delete(flowId(request)));
        });
        scope.post('/:flow_id/start', async (request) => ok(await flows.start(flowId(request), await operator(request))));
        scope.post('/:flow_id/stop', async (request) => ok(await flows.stop(flowId(request), await operator(request))));
        scope.post('/:flow_id/restart', async (request) => ok(await flows.restart(flowId(request), await operator(request))));
        scope.get('/:flow_id/graph', async (request) => {
          await operator(request);
          return ok(await flows.graph(flowId(request)));
        });
        scope.get('/:flow_id/latest_deploy_data', async (request) => {
          await operator(request);
          return ok(await flows.latestDeployData(flowId(request)));
        });
        scope.get('/:flow_id/tasks', async (request) => {
          await operator(request);
          return ok(await flows.tasks(flowId(request)));
        });
        scope.get('/:flow_id/export', async (request) => {
          await operator(request);
          return ok(await flows.export(flowId(request)));
        });
        scope.post('/:flow_id/nodes', async (request) => ok(await flows.addNodes(flowId(request), request.body, await operator(request))));
        scope.patch('/:flow_id/nodes/:node_id', async (request) =>
          ok(await flows.patchNode(flowId(request), numberParam(request, 'node_id'), request.body, await operator(request))),
        );
      },
      { prefix },
    );
  }
}

/** Credentials travel in the JSON body (POST, PATCH) or, for GET and DELETE, in the query string. */
function credentialsOf(request: FastifyRequest): unknown {
  const body = request.body;
  if (typeof body === 'object' && body !== null && 'bk_app_code' in body) return body;
  return request.query;
}

function flowId(request: FastifyRequest): number {
  return numberParam(request, 'flow_id');
}

function numberParam(request: FastifyRequest, name: string): number {
  const raw = (request.params as Record<string, string | undefined>)[name] ?? '';
  const n = Number(raw);
  if (!/^\d{1,15}$/.test(raw) || n <= 0) throw new RollgateError('INVALID_PARAMETER', `${name}: must be a positive integer, got ${JSON.stringify(raw)}`, { field: name });
  return n;
}
