import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RollgateError, invalidParameter, toRollgateError } from '../errors.js';
import { UPLOAD_LIMITS, parseUploadBody, parseUploadQuery, type UploadContext, type WebEvent } from '../core/web-event.js';
import type { MonitorCollector } from '../ingest/monitor/collector.js';
import { failure } from './envelope.js';

/**
 * Seed 003's `/monitor/upload`, GET (query string) and POST (a JSON object or
 * array, as application/json or as the text/plain that navigator.sendBeacon
 * sends). 204 once Kafka has the events; errors in the DataService envelope.
 */
export async function registerMonitorRoutes(app: FastifyInstance, collector: MonitorCollector): Promise<void> {
  await app.register(async (scope) => {
    // Every body arrives as text and is parsed here, whatever its type: beacons say text/plain.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: UPLOAD_LIMITS.bodyBytes }, (_request, body, done) => done(null, body));

    scope.setErrorHandler(async (error, request, reply) => {
      const status = (error as { statusCode?: unknown }).statusCode;
      const rollgateError =
        error instanceof RollgateError
          ? error
          : status === 413
            ? new RollgateError('PAYLOAD_TOO_LARGE', `the body is larger than ${UPLOAD_LIMITS.bodyBytes} bytes`, { field: 'body' })
            : typeof status === 'number' && status >= 400 && status < 500
              ? invalidParameter('body', error instanceof Error ? error.message : 'bad request')
              : toRollgateError(error);
      if (rollgateError.code === 'INTERNAL') request.log.error({ err: error }, 'monitor upload failed');
      if (rollgateError.retryAfterSeconds !== undefined) reply.header('retry-after', String(rollgateError.retryAfterSeconds));
      allowOrigin(request, reply, collector);
      reply.code(rollgateError.httpStatus);
      return failure(request.id, rollgateError);
    });

    scope.options('/monitor/upload', async (request, reply) => {
      allowOrigin(request, reply, collector);
      reply.header('access-control-allow-methods', 'GET, POST, OPTIONS');
      reply.header('access-control-allow-headers', 'content-type');
      reply.header('access-control-max-age', '600');
      reply.code(204).send();
    });

    scope.get('/monitor/upload', async (request, reply) => {
      const rawQuery = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
      const events = parseUploadQuery((request.query ?? {}) as Record<string, unknown>, rawQuery.length, context(request));
      await accept(request, reply, collector, events);
    });

    scope.post('/monitor/upload', async (request, reply) => {
      const body = typeof request.body === 'string' ? request.body : '';
      await accept(request, reply, collector, parseUploadBody(body, context(request)));
    });
  });
}

function context(request: FastifyRequest): UploadContext {
  return { receivedAt: Date.now(), clientIp: request.ip, userAgent: request.headers['user-agent'] };
}

async function accept(request: FastifyRequest, reply: FastifyReply, collector: MonitorCollector, events: WebEvent[]): Promise<void> {
  const origin = request.headers.origin;
  events.forEach((e, i) => collector.checkApp(e.app_id, origin, events.length === 1 ? 'appId' : `events[${i}].appId`));
  await collector.accept(events, request.ip);
  allowOrigin(request, reply, collector);
  reply.code(204).send();
}

/** Echoes an allowed Origin, so a browser may read the answer (beacons never do; fetch does). */
function allowOrigin(request: FastifyRequest, reply: FastifyReply, collector: MonitorCollector): void {
  const origin = request.headers.origin;
  if (origin === undefined || !collector.originAllowedForSomeApp(origin)) return;
  reply.header('access-control-allow-origin', origin);
  reply.header('vary', 'Origin');
}
