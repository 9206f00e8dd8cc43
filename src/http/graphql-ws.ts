import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import proxyAddr from '@fastify/proxy-addr';
import type { FastifyInstance } from 'fastify';
import { GraphQLError, getOperationAST, parse, validate, visit, type DocumentNode, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { CloseCode, handleProtocols, makeServer, type Context } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AuthRequest, Authenticator, Principal } from '../auth/authenticator.js';
import { ErrorCodes, RollgateError, toRollgateError, type ErrorCode } from '../errors.js';
import type { GraphQLContext } from '../graphql/context.js';
import { formatGraphQLError } from '../graphql/format-error.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

/** Largest message a client may send (a subscribe with its query and variables); ws closes with 1009 beyond it. */
const MAX_MESSAGE_BYTES = 64 * 1024;
/**
 * Fields (aliases included) one subscription document may select: every event
 * resolves each of them for every row, so thousands of aliases of one field
 * would multiply the work of each update. The subscription types are flat; a
 * real selection needs a few dozen at most.
 */
const MAX_FIELDS = 100;
/** A client that does not answer a ping within this long is dropped, so dead peers do not hold subscriptions. */
const KEEPALIVE_MS = 12_000;
/** Close codes of refused connections, in graphql-ws's 4xxx range: the reason names the error code and the problem. */
const CLOSE_UNAUTHENTICATED = CloseCode.Unauthorized; // 4401
const CLOSE_FORBIDDEN = CloseCode.Forbidden; // 4403
const CLOSE_RATE_LIMITED = 4429;
/** Not 4401: graphql-ws clients give up on 4401, but retry this one, calling connectionParams again for a fresh token. */
const CLOSE_TOKEN_EXPIRED = 4419;
const CLOSE_INTERNAL = CloseCode.InternalServerError; // 4500

export interface GraphQLWsOptions {
  /** The schema of the moment (graphql-ws asks for it on every subscribe, so a schema that changes at runtime is followed). */
  schema: () => GraphQLSchema;
  authenticator: Authenticator;
  /** The context of one operation; `requestId` is `<connection id>/<operation id>`. */
  context: (principal: Principal, requestId: string) => GraphQLContext;
  maxSubscriptions: number;
  /** Sockets this process holds at once (authenticated or not yet); beyond it an upgrade gets 503. */
  maxConnections: number;
  /** Authenticated connections of one app at once; beyond it the new one is closed with 4429. */
  maxConnectionsPerApp: number;
  /** TRUSTED_PROXIES: only these peers' X-Forwarded-For names the client address (as for HTTP). */
  trustedProxies: readonly string[];
  logger: Logger;
  metrics: Metrics;
}

interface Extra {
  socket: WebSocket;
  request: IncomingMessage;
  connectionId: string;
  principal?: Principal;
  /** The credentials it opened with, checked again before every event and on every keepalive tick. */
  credentials?: AuthRequest;
  /** Operations of this connection that are running subscriptions (counted in the metrics). */
  running: Set<string>;
  /** Set once the connection is counted against its app's cap (and must be uncounted when it ends). */
  countedFor?: string;
}

type WsContext = Context<Record<string, unknown> | undefined, Extra>;

/**
 * GraphQL subscriptions over the graphql-transport-ws protocol (graphql-ws) on
 * the HTTP server's own port, at /graphql: an HTTP GET there is a query, an
 * upgrade is a WebSocket. graphql-ws's protocol engine (makeServer) is bound to
 * `ws` here rather than through its `useServer`, so failures reach our logger
 * and refusals carry our error codes.
 *
 * - The app authenticates in connection_init (`{"Authorization": "APPCODE …"}`
 *   or `"Bearer …"`; the upgrade request's Authorization header also counts).
 *   A refusal closes the socket: 4401 unauthenticated, 4419 token expired,
 *   4403 disabled or IP not allowed, 4429 rate limited; the reason reads
 *   `<CODE>: <problem>`. The same
 *   credentials are checked again before each event and on each keepalive.
 * - Grants are checked per subscription (NOT_GRANTED as a GraphQL error).
 * - Only subscriptions travel here: queries and mutations go over HTTP, where
 *   the query limits apply. At most `maxSubscriptions` per connection.
 */
export function registerGraphQLWs(app: FastifyInstance, options: GraphQLWsOptions): void {
  const { logger, metrics } = options;
  const trust = proxyAddr.compile([...options.trustedProxies]);
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, handleProtocols });
  const perApp = new Map<string, number>();
  const server = makeServer<Record<string, unknown> | undefined, Extra>({
    connectionInitWaitTimeout: 3000,
    onConnect: async (ctx) => {
      const ip = proxyAddr(ctx.extra.request, trust);
      try {
        const credentials = authRequest(ctx, ip);
        const principal = await options.authenticator.authenticate(credentials, { allowJwt: true });
        const held = perApp.get(principal.appKey) ?? 0;
        if (held >= options.maxConnectionsPerApp) {
          throw new RollgateError('RATE_LIMITED', `at most ${options.maxConnectionsPerApp} connections of one app at once (GRAPHQL_WS_MAX_CONNECTIONS_PER_APP)`);
        }
        perApp.set(principal.appKey, held + 1);
        ctx.extra.countedFor = principal.appKey;
        ctx.extra.principal = principal;
        ctx.extra.credentials = credentials;
        metrics.wsConnections.inc();
        return true;
      } catch (err) {
        refuse(ctx.extra, err, 'graphql-ws connection refused');
        return false;
      }
    },
    onSubscribe: (ctx, id, payload) => {
      const open = Object.keys(ctx.subscriptions).length; // this one included
      if (open > options.maxSubscriptions) {
        return [refusal('RATE_LIMITED', `at most ${options.maxSubscriptions} subscriptions may be open on one connection (GRAPHQL_WS_MAX_SUBSCRIPTIONS)`)];
      }
      let document: DocumentNode;
      try {
        document = parse(payload.query);
      } catch (err) {
        return [err instanceof GraphQLError ? err : refusal('INVALID_PARAMETER', 'the query does not parse')];
      }
      let fields = 0;
      visit(document, { Field: () => void (fields += 1) });
      if (fields > MAX_FIELDS) return [refusal('INVALID_PARAMETER', `a subscription may select at most ${MAX_FIELDS} fields (aliases included); this one selects ${fields}`)];
      const schema = options.schema();
      const errors = validate(schema, document);
      if (errors.length > 0) return errors;
      const operation = getOperationAST(document, payload.operationName);
      if (operation === null || operation === undefined) {
        return [refusal('INVALID_PARAMETER', 'name the operation to run (operationName) among those in the document')];
      }
      if (operation.operation !== 'subscription') {
        return [refusal('METHOD_NOT_ALLOWED', `only subscriptions are served over WebSocket; send this ${operation.operation} to /graphql over HTTP`)];
      }
      const principal = ctx.extra.principal;
      if (principal === undefined) return [refusal('UNAUTHENTICATED', 'the connection is not authenticated')];
      return {
        schema,
        document,
        operationName: payload.operationName ?? null,
        variableValues: payload.variables ?? null,
        contextValue: options.context(principal, `${ctx.extra.connectionId}/${id}`),
      };
    },
    onOperation: (ctx, id, _payload, _args, result) => {
      if (isAsyncIterable(result)) {
        ctx.extra.running.add(id);
        metrics.wsSubscriptions.inc();
      }
      return undefined;
    },
    // Called however a running subscription ends: completed by the client, failed, or its connection closed.
    onComplete: (ctx, id) => {
      if (ctx.extra.running.delete(id)) metrics.wsSubscriptions.dec();
    },
    onDisconnect: () => {
      metrics.wsConnections.dec();
    },
    // However a connection ends (acknowledged or not), it no longer counts against its app.
    onClose: (ctx) => {
      const appKey = ctx.extra.countedFor;
      if (appKey === undefined) return;
      ctx.extra.countedFor = undefined;
      const left = (perApp.get(appKey) ?? 1) - 1;
      if (left <= 0) perApp.delete(appKey);
      else perApp.set(appKey, left);
    },
    onNext: async (ctx, _id, _payload, _args, result) => {
      // Nothing more for an app disabled, rotated or out of its allowlist, or a token expired, since the connection opened.
      await recheck(ctx.extra);
      return result.errors === undefined ? undefined : { ...result, errors: result.errors.map(formatWsError) };
    },
    onError: (_ctx, _id, _payload, errors) => errors.map(formatWsError),
  });

  /** Closes the connection with the code and reason of an authentication failure. */
  function refuse(extra: Extra, err: unknown, what: string): void {
    const error = toRollgateError(err);
    metrics.wsRefused.inc({ code: error.code });
    if (error.code === 'INTERNAL') logger.error({ err, connection: extra.connectionId }, 'graphql-ws authentication failed');
    else logger.info({ code: error.code, appKey: extra.principal?.appKey, connection: extra.connectionId }, what);
    extra.socket.close(closeCodeOf(error.code), closeReason(error));
  }

  /** The credentials of an open connection, checked again (no rate limit: no new call); closes the connection when they no longer hold. */
  async function recheck(extra: Extra): Promise<void> {
    if (extra.credentials === undefined || extra.socket.readyState !== extra.socket.OPEN) return;
    try {
      await options.authenticator.authenticate(extra.credentials, { allowJwt: true, consumeRateLimit: false });
    } catch (err) {
      refuse(extra, err, 'graphql-ws connection closed: its credentials no longer hold');
    }
  }

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const extra: Extra = { socket, request, connectionId: randomUUID(), running: new Set() };
    socket.on('error', (err) => {
      logger.warn({ err: { message: err.message }, connection: extra.connectionId }, 'graphql-ws socket error');
      socket.close(CLOSE_INTERNAL, 'INTERNAL: socket error');
    });
    let pongWait: NodeJS.Timeout | undefined;
    const keepAlive = setInterval(() => {
      if (socket.readyState !== socket.OPEN) return;
      void recheck(extra);
      pongWait = setTimeout(() => socket.terminate(), KEEPALIVE_MS);
      socket.once('pong', () => clearTimeout(pongWait));
      socket.ping();
    }, KEEPALIVE_MS);
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (err) => (err ? reject(err) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (cb) =>
          socket.on('message', (data: Buffer, isBinary: boolean) => {
            if (isBinary) {
              socket.close(CloseCode.BadRequest, 'INVALID_PARAMETER: messages are JSON text');
              return;
            }
            cb(data.toString('utf8')).catch((err: unknown) => {
              // graphql-ws throws on messages it cannot act on (an unknown type, a send to a closed peer).
              logger.warn({ err, connection: extra.connectionId }, 'graphql-ws message failed; connection closed');
              socket.close(CLOSE_INTERNAL, 'INTERNAL: the message could not be handled');
            });
          }),
      },
      extra,
    );
    socket.once('close', (code, reason) => {
      clearInterval(keepAlive);
      clearTimeout(pongWait);
      closed(code, reason.toString('utf8')).catch((err: unknown) => logger.warn({ err }, 'graphql-ws cleanup failed'));
    });
  });

  app.server.on('upgrade', (request: IncomingMessage, socket, head: Buffer) => {
    // An upgraded socket is ours: a reset peer must not raise an unhandled 'error'.
    socket.on('error', (err: Error) => logger.debug({ err: { message: err.message } }, 'upgrade socket error'));
    const path = (request.url ?? '').split('?')[0]?.replace(/\/$/, '');
    if (path !== '/graphql') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    // Counted before anyone authenticates: a flood of sockets that never send connection_init holds memory too.
    if (wss.clients.size >= options.maxConnections) {
      metrics.wsRefused.inc({ code: 'RATE_LIMITED' });
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });

  // Before the HTTP server closes: open WebSockets would otherwise keep it from finishing.
  app.addHook('preClose', async () => {
    for (const client of wss.clients) client.close(1001, 'Going away');
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    for (const client of wss.clients) client.terminate();
  });
}

/** What authentication sees of a WebSocket: the credentials of connection_init, or of the upgrade request. */
function authRequest(ctx: WsContext, ip: string): AuthRequest {
  const params = ctx.connectionParams ?? {};
  const fromParams = Object.entries(params).find(([k, v]) => k.toLowerCase() === 'authorization' && typeof v === 'string')?.[1] as string | undefined;
  const upgrade = ctx.extra.request.headers;
  const authorization = fromParams ?? upgrade.authorization;
  const signed = [...Object.keys(params), ...Object.keys(upgrade)].some((k) => /^x-ca-(key|signature)$/i.test(k));
  if (authorization === undefined && signed) {
    throw new RollgateError(
      'UNAUTHENTICATED',
      'signatures sign one HTTP request; over WebSocket send {"Authorization": "APPCODE <code>"} or a Bearer token from POST /auth/token',
    );
  }
  const search = (ctx.extra.request.url ?? '').split('?')[1] ?? '';
  return {
    method: 'GET',
    path: '/graphql',
    headers: authorization === undefined ? {} : { authorization },
    query: [...new URLSearchParams(search)].filter(([k]) => k === 'appCode'),
    form: [],
    ip,
    rawBody: undefined,
  };
}

function closeCodeOf(code: ErrorCode): number {
  if (code === 'TOKEN_EXPIRED') return CLOSE_TOKEN_EXPIRED;
  switch (ErrorCodes[code].httpStatus) {
    case 401:
      return CLOSE_UNAUTHENTICATED;
    case 403:
      return CLOSE_FORBIDDEN;
    case 429:
      return CLOSE_RATE_LIMITED;
    default:
      return CLOSE_INTERNAL;
  }
}

/** A WebSocket close reason holds at most 123 bytes. */
function closeReason(error: RollgateError): string {
  const text = error.code === 'INTERNAL' ? 'INTERNAL: authentication failed' : `${error.code}: ${error.message}`;
  let out = text.replace(/[^\x20-\x7e]/g, '?');
  if (out.length > 123) out = `${out.slice(0, 120)}...`;
  return out;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

function refusal(code: ErrorCode, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code, errCode: ErrorCodes[code].errCode } });
}

/**
 * Errors as over HTTP (formatGraphQLError): a resolver's RollgateError keeps
 * its code, an unknown failure is masked. GraphQL's own errors (syntax,
 * validation, variables, possibly wrapping another GraphQLError) are the
 * client's: INVALID_PARAMETER with their message, unless they carry a code.
 */
function formatWsError(error: GraphQLError): GraphQLFormattedError {
  const original = error.originalError ?? undefined;
  if (original !== undefined && !(original instanceof GraphQLError)) return formatGraphQLError(error.toJSON(), error);
  const formatted = error.toJSON();
  if (typeof formatted.extensions?.['code'] === 'string') return formatted;
  return { ...formatted, extensions: { code: 'INVALID_PARAMETER', errCode: ErrorCodes.INVALID_PARAMETER.errCode } };
}
