import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RollgateError } from '../errors.js';
import { success } from '../http/envelope.js';
import type { AuthRequest, Authenticator, Principal } from './authenticator.js';
import type { TokenService } from './jwt.js';
import { presentsAdminCredential } from './admin-auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The app calling, once the auth hook ran (only on routes that need it). */
    principal: Principal | undefined;
    /** /graphql only: the caller presented the admin token or an admin JWT (and is no app). */
    admin: boolean;
    /** The body exactly as received: Content-MD5 and form signatures are checked on these bytes. */
    rawBody: Buffer | undefined;
  }
}

export interface HttpAuthDeps {
  authenticator: Authenticator;
  tokens: TokenService;
  /** ROLLGATE_ADMIN_TOKEN: with it (or an admin JWT), /graphql serves the admin fields. */
  adminToken: string | undefined;
  bodyLimit: number;
}

const FORM = 'application/x-www-form-urlencoded';

/**
 * Wires authentication into the one Fastify server: keeps the raw body,
 * parses form bodies, authenticates `/api/*`, `/graphql` (calls, not the
 * browser landing page) and `POST /auth/token` before their handlers run.
 * Health, metrics, OpenAPI and the index page stay open.
 */
export function registerHttpAuth(app: FastifyInstance, deps: HttpAuthDeps): void {
  app.decorateRequest('principal', undefined);
  app.decorateRequest('rawBody', undefined);
  app.decorateRequest('admin', false);

  app.addHook('preParsing', async (request, _reply, payload) => {
    // Most calls are GETs without a body: nothing to keep, and no stream to replay (rawBody stays undefined,
    // which every reader takes as empty).
    if (!hasBody(request)) return payload;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of payload) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
      size += buf.length;
      if (size > deps.bodyLimit) throw Object.assign(new Error('body too large'), { statusCode: 413 });
      chunks.push(buf);
    }
    const body = Buffer.concat(chunks);
    request.rawBody = body;
    const replay = Readable.from(body.length === 0 ? [] : [body]);
    return Object.assign(replay, { receivedEncodedLength: body.length });
  });

  // Form posts are part of the signature scheme; their fields reach a POST API like JSON body fields.
  app.addContentTypeParser(FORM, { parseAs: 'string' }, (_request, body, done) => {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of new URLSearchParams(String(body))) {
      const before = out[k];
      out[k] = before === undefined ? v : Array.isArray(before) ? [...before, v] : [before, v];
    }
    done(null, out);
  });

  app.addHook('preHandler', async (request) => {
    const route = request.routeOptions.url;
    if (route === '/api/*') {
      request.principal = await deps.authenticator.authenticate(authRequest(request), { allowJwt: true });
    } else if (route === '/graphql' && !isLandingPage(request)) {
      // An admin reads the catalog (data sources, APIs, apps); everyone else is an app, checked as on /api.
      if (presentsAdminCredential(request.headers.authorization, deps.adminToken, deps.tokens)) request.admin = true;
      else request.principal = await deps.authenticator.authenticate(authRequest(request), { allowJwt: true });
    } else if (route === '/auth/token') {
      request.principal = await deps.authenticator.authenticate(authRequest(request), { allowJwt: false });
    }
  });

  app.post('/auth/token', async (request) => {
    const principal = request.principal;
    if (principal === undefined) throw new RollgateError('UNAUTHENTICATED', 'this call needs credentials');
    const { token, expiresAt } = deps.tokens.issue(principal.appKey, { appKey: principal.appKey, grants: principal.grants }, 'rollgate-api');
    return success(request.id, {
      token,
      tokenType: 'Bearer',
      expiresIn: deps.tokens.ttlSeconds,
      expiresAt: new Date(expiresAt).toISOString(),
      appKey: principal.appKey,
      grants: principal.grants,
    });
  });
}

/** An HTTP/1.1 message has a body only with Content-Length (not 0) or Transfer-Encoding (RFC 9112 §6.3). */
function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * A browser opening /graphql gets Apollo's landing page, which holds no data. Any GraphQL
 * request parameter makes it an operation (a persisted-query hash in `extensions` runs a
 * query without `query`), and an operation always needs credentials.
 */
function isLandingPage(request: FastifyRequest): boolean {
  if (request.method !== 'GET') return false;
  const params = new URLSearchParams(request.url.split('?')[1] ?? '');
  const operation = ['query', 'extensions', 'operationName', 'variables'].some((name) => params.has(name));
  return !operation && (request.headers.accept ?? '').includes('text/html');
}

export function authRequest(request: FastifyRequest): AuthRequest {
  const [path = '', search = ''] = splitOnce(request.url, '?');
  const contentType = (request.headers['content-type'] ?? '').toLowerCase();
  const rawBody = request.rawBody;
  return {
    method: request.method,
    path,
    headers: request.headers,
    query: pairs(search),
    form: contentType.startsWith(FORM) && rawBody !== undefined ? pairs(rawBody.toString('utf8')) : [],
    ip: request.ip,
    rawBody,
  };
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}

function pairs(encoded: string): Array<[string, string]> {
  return [...new URLSearchParams(encoded)];
}
