import { RollgateError } from '../errors.js';
import type { AppService, LiveApp } from './apps.js';
import { isGranted } from './grants.js';
import type { TokenService } from './jwt.js';
import type { NonceStore } from './nonce-store.js';
import type { AppRateLimiter, FailureThrottle } from './rate-limit.js';
import { contentMd5, forErrorHeader, header, sign, signaturesMatch, signedHeaderNames, stringToSign, type SignedRequest } from './signature.js';

/** X-Ca-Timestamp must lie this close to the server clock; nonces are remembered twice as long (either side). */
export const TIMESTAMP_WINDOW_MS = 15 * 60_000;
const FORM = 'application/x-www-form-urlencoded';
const MAX_CREDENTIAL_LENGTH = 4096;
const MAX_NONCE_LENGTH = 128;

/** A request as authentication sees it; `ip` is the client address (socket, or X-Forwarded-For from a trusted proxy). */
export interface AuthRequest extends SignedRequest {
  ip: string;
  rawBody: Buffer | undefined;
}

export interface Principal {
  appKey: string;
  grants: readonly string[];
  /** secret: the DataFlow API's bk_app_code and bk_app_secret. */
  via: 'appcode' | 'signature' | 'jwt' | 'secret';
}

export interface AuthOptions {
  /** Bearer tokens are accepted (not for /auth/token itself, so a token cannot renew itself forever). */
  allowJwt: boolean;
  /**
   * Counts the call against the app's rate limit (default). Off to re-check the credentials of a
   * connection already open (a GraphQL WebSocket), which is no new call.
   */
  consumeRateLimit?: boolean;
}

/**
 * Who is calling: AppCode (header, or `appCode` in the query when the app
 * allows it), an API Gateway signature, or a JWT bearer token; then the app's
 * status, IP allowlist and rate limit. Every failure is a RollgateError with
 * its own code and an X-Ca-Error-Message text that holds no secret.
 */
export class Authenticator {
  constructor(
    private readonly apps: AppService,
    private readonly nonces: NonceStore,
    private readonly limiter: AppRateLimiter,
    private readonly tokens: TokenService,
    private readonly failures: FailureThrottle | undefined = undefined,
    private readonly now: () => number = Date.now,
  ) {}

  async authenticate(req: AuthRequest, options: AuthOptions): Promise<Principal> {
    // AppCodes are the one credential a client presents as is: guesses of them are throttled per address.
    // Signatures and tokens cannot be guessed (HMAC, and a signed JWT), so they are not held up by others' failures.
    // A re-check of an open connection (no new call) is neither held up nor counted.
    const guessable = presentsAppCode(req) && options.consumeRateLimit !== false;
    if (guessable) this.failures?.check(req.ip);
    try {
      return await this.identify(req, options);
    } catch (err) {
      if (guessable && err instanceof RollgateError && err.code === 'UNAUTHENTICATED') await this.failures?.failed(req.ip);
      throw err;
    }
  }

  private async identify(req: AuthRequest, options: AuthOptions): Promise<Principal> {
    const authorization = header(req.headers, 'authorization');
    let app: LiveApp;
    let via: Principal['via'];
    /** A token may carry fewer grants than its app holds (the dashboard's read-only session): never more. */
    let claimed: readonly string[] | undefined;
    if (authorization !== undefined && authorization.length > MAX_CREDENTIAL_LENGTH) {
      throw unauthenticated('the Authorization header is too long', 'Invalid Authorization');
    }
    const scheme = authorization === undefined ? undefined : /^(\S+)(?:\s+(\S.*))?$/.exec(authorization.trim());
    const kind = scheme?.[1]?.toUpperCase();
    if (kind === 'APPCODE') {
      app = this.byCode(scheme?.[2]?.trim());
      via = 'appcode';
    } else if (kind === 'BEARER' && options.allowJwt) {
      const bearer = this.byToken(scheme?.[2]?.trim());
      app = bearer.app;
      claimed = bearer.grants;
      via = 'jwt';
    } else if (header(req.headers, 'x-ca-key') !== undefined || header(req.headers, 'x-ca-signature') !== undefined) {
      app = await this.bySignature(req);
      via = 'signature';
    } else if (authorization === undefined && req.query.some(([k]) => k === 'appCode')) {
      const codes = req.query.filter(([k]) => k === 'appCode');
      app = this.byCode(codes.length === 1 ? codes[0]?.[1] : undefined);
      if (!app.record.allowAppCodeQuery) throw unauthenticated('this app takes its appCode only in the Authorization header', 'Invalid AppCode');
      via = 'appcode';
    } else if (authorization !== undefined) {
      throw unauthenticated('unsupported Authorization scheme: use APPCODE <code>, Bearer <token> or an X-Ca-Signature', 'Invalid Authorization');
    } else {
      throw unauthenticated('this call needs credentials: Authorization: APPCODE <code>, an X-Ca-Signature, or Bearer <token>', 'Missing Credentials');
    }
    const principal = await this.admit(app, req.ip, via, options.consumeRateLimit !== false);
    return claimed === undefined ? principal : { ...principal, grants: principal.grants.filter((g) => claimed.includes(g)) };
  }

  /**
   * The DataFlow API's credentials (seed 000/001): `bk_app_code` (the appKey) and `bk_app_secret` in the
   * request itself. The app is then held to the same policy as every other route.
   */
  async authenticateSecret(appKey: string, secret: string, ip: string): Promise<Principal> {
    // The app secret travels as is too (the seed's scheme): guesses are throttled like AppCodes.
    this.failures?.check(ip);
    const app = appKey.length > MAX_CREDENTIAL_LENGTH ? undefined : this.apps.findByKey(appKey);
    if (app === undefined || !signaturesMatch(secret, app.secret)) {
      await this.failures?.failed(ip);
      throw new RollgateError('UNAUTHENTICATED', 'bk_app_code or bk_app_secret is wrong', { field: 'bk_app_secret', headerMessage: 'Invalid AppSecret' });
    }
    return this.admit(app, ip, 'secret', true);
  }

  /** One policy for every route family: the app's status, its IP allowlist, then its rate limit. */
  private async admit(app: LiveApp, ip: string, via: Principal['via'], consumeRateLimit: boolean): Promise<Principal> {
    if (app.record.status !== 'enabled') throw new RollgateError('APP_DISABLED', 'the app is disabled', { headerMessage: 'App Disabled' });
    if (!app.allowlist.allows(ip)) {
      throw new RollgateError('IP_NOT_ALLOWED', `calls from ${ip} are not allowed for this app`, { headerMessage: 'Invalid Client IP' });
    }
    if (consumeRateLimit) await this.limiter.consume(app.record.appKey, app.record.rateLimit);
    return { appKey: app.record.appKey, grants: app.record.grants, via };
  }

  private byCode(code: string | undefined): LiveApp {
    if (code === undefined || code === '' || code.length > MAX_CREDENTIAL_LENGTH) throw unauthenticated('the appCode is missing', 'Invalid AppCode');
    const app = this.apps.findByCode(code);
    if (app === undefined) throw unauthenticated('unknown appCode', 'Invalid AppCode');
    return app;
  }

  /** The token's app, and the grants the token claims when it claims any (a token without the claim gets its app's). */
  private byToken(token: string | undefined): { app: LiveApp; grants: readonly string[] | undefined } {
    if (token === undefined || token === '') throw new RollgateError('TOKEN_INVALID', 'the bearer token is missing', { headerMessage: 'Invalid Token' });
    const payload = this.tokens.verify(token, 'rollgate-api');
    const app = this.apps.findByKey(payload.sub);
    if (app === undefined) throw new RollgateError('TOKEN_INVALID', 'the bearer token names an unknown app', { headerMessage: 'Invalid Token' });
    const claim: unknown = payload['grants'];
    const grants = Array.isArray(claim) ? claim.filter((g): g is string => typeof g === 'string') : undefined;
    return { app, grants };
  }

  private async bySignature(req: AuthRequest): Promise<LiveApp> {
    const required = (name: string): string => {
      const value = header(req.headers, name);
      if (value === undefined || value === '') throw unauthenticated(`the ${name} header is required`, `Missing ${name}`, name);
      if (value.length > MAX_CREDENTIAL_LENGTH) throw unauthenticated(`the ${name} header is too long`, `Invalid ${name}`, name);
      return value;
    };
    const appKey = required('x-ca-key');
    const signature = required('x-ca-signature');
    const timestamp = required('x-ca-timestamp');
    const nonce = required('x-ca-nonce');
    if (nonce.length > MAX_NONCE_LENGTH) {
      throw new RollgateError('INVALID_PARAMETER', `x-ca-nonce must be at most ${MAX_NONCE_LENGTH} characters (a UUID is 36)`, { headerMessage: 'Invalid Nonce', field: 'x-ca-nonce' });
    }
    required('x-ca-signature-headers');

    if (!/^\d{1,16}$/.test(timestamp) || Math.abs(this.now() - Number(timestamp)) > TIMESTAMP_WINDOW_MS) {
      throw new RollgateError('TIMESTAMP_SKEW', 'x-ca-timestamp must be epoch milliseconds within 15 minutes of the server clock', {
        headerMessage: 'Invalid Timestamp',
        field: 'x-ca-timestamp',
      });
    }
    const app = this.apps.findByKey(appKey);
    if (app === undefined) throw unauthenticated('unknown x-ca-key', 'Invalid AppKey', 'x-ca-key');

    // Without these two signed, a captured request could be replayed with a fresh timestamp and nonce.
    const signed = signedHeaderNames(req.headers);
    if (!signed.includes('x-ca-timestamp') || !signed.includes('x-ca-nonce')) {
      throw unauthenticated('x-ca-signature-headers must include x-ca-timestamp and x-ca-nonce', 'Invalid X-Ca-Signature-Headers', 'x-ca-signature-headers');
    }

    const contentType = (header(req.headers, 'content-type') ?? '').toLowerCase();
    const md5 = header(req.headers, 'content-md5');
    const body = req.rawBody ?? Buffer.alloc(0);
    if (!contentType.startsWith(FORM) && (body.length > 0 || md5 !== undefined)) {
      if (md5 === undefined) throw new RollgateError('CONTENT_MD5_MISMATCH', 'a body needs a Content-MD5 header', { headerMessage: 'Missing Content-MD5' });
      if (!signaturesMatch(md5, contentMd5(body))) {
        throw new RollgateError('CONTENT_MD5_MISMATCH', 'Content-MD5 does not match the body', { headerMessage: 'Invalid Content-MD5' });
      }
    }

    refuseAmbiguousRepeats(req);
    const expected = stringToSign(req);
    if (!signaturesMatch(signature, sign(app.secret, expected))) {
      throw new RollgateError('SIGNATURE_MISMATCH', 'the signature does not match; X-Ca-Error-Message holds the string the server signed', {
        headerMessage: `Invalid Signature, Server StringToSign:\`${forErrorHeader(expected)}\``,
      });
    }
    // Only after the signature holds: nobody else can use up an app's nonces.
    if (!(await this.nonces.remember(appKey, nonce))) {
      throw new RollgateError('NONCE_REPLAYED', 'x-ca-nonce was already used', { headerMessage: 'Nonce Used', field: 'x-ca-nonce' });
    }
    return app;
  }
}

/** NOT_GRANTED unless the principal holds a grant for the API (by name or group). */
export function authorize(principal: Principal | undefined, api: { name: string; group: string }): void {
  if (principal === undefined) throw unauthenticated('this call needs credentials', 'Missing Credentials');
  if (!isGranted(principal.grants, api)) {
    throw new RollgateError('NOT_GRANTED', `the app is not granted the API ${api.name}`, { headerMessage: 'Unauthorized API' });
  }
}

/**
 * The string to sign joins a repeated key's values with ",", so `ip=a,b&ip=c` and `ip=a&ip=b,c` would sign
 * alike and bind differently: a repeated key's values may not hold a comma, which makes every spelling of one
 * signed string bind to the same values.
 */
function refuseAmbiguousRepeats(req: AuthRequest): void {
  for (const pairs of [req.query, req.form]) {
    const seen = new Map<string, number>();
    for (const [k] of pairs) seen.set(k, (seen.get(k) ?? 0) + 1);
    const bad = pairs.find(([k, v]) => (seen.get(k) ?? 0) > 1 && v.includes(','));
    if (bad !== undefined) {
      throw new RollgateError('INVALID_PARAMETER', `${bad[0]}: a parameter repeated in a signed call may not contain "," (the signature joins repeated values with ","); send it once, comma-separated`, {
        field: bad[0],
        headerMessage: 'Ambiguous Repeated Parameter',
      });
    }
  }
}

/** The request authenticates with an AppCode: the APPCODE scheme, or `appCode` in the query without an Authorization header. */
function presentsAppCode(req: AuthRequest): boolean {
  const authorization = header(req.headers, 'authorization');
  if (authorization !== undefined) return /^\s*APPCODE(\s|$)/i.test(authorization);
  return req.query.some(([k]) => k === 'appCode') && header(req.headers, 'x-ca-key') === undefined && header(req.headers, 'x-ca-signature') === undefined;
}

function unauthenticated(message: string, headerMessage: string, field?: string): RollgateError {
  return new RollgateError('UNAUTHENTICATED', message, { headerMessage, ...(field === undefined ? {} : { field }) });
}
