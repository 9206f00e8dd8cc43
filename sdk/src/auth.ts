import type { TokenResponse } from './apis.js';

/** `Authorization: APPCODE <appCode>`. */
export interface AppCodeAuth {
  type: 'appCode';
  appCode: string;
}

/** AppKey/AppSecret, signed per request (X-Ca-Signature). Keep the secret on servers: a page cannot hide it. */
export interface SignatureAuth {
  type: 'signature';
  appKey: string;
  appSecret: string;
}

/** A source of bearer tokens, e.g. a call to your own backend that holds the app's credentials. */
export type TokenProvider = (signal: AbortSignal) => Promise<string>;

/**
 * `Authorization: Bearer <token>` with a token from elsewhere. With a
 * provider, the client asks again once when the gateway says the token expired.
 */
export interface BearerAuth {
  type: 'bearer';
  token: string | TokenProvider;
}

/**
 * Short-lived JWTs that the client gets itself from `POST /auth/token` with
 * these credentials, keeps until shortly before they expire, and renews.
 */
export interface JwtAuth {
  type: 'jwt';
  credentials: AppCodeAuth | SignatureAuth;
}

export type Auth = AppCodeAuth | SignatureAuth | BearerAuth | JwtAuth;

/**
 * One JWT at a time for a JwtAuth client: concurrent calls share one token
 * request, and a token is renewed when less than a tenth of its life (at most
 * 30 s) is left, so a call never leaves with a token about to lapse.
 */
export class TokenCache {
  private current: { token: string; renewAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly issue: (signal: AbortSignal) => Promise<Pick<TokenResponse, 'token' | 'expiresIn'>>,
    private readonly now: () => number = Date.now,
  ) {}

  async get(signal: AbortSignal): Promise<string> {
    if (this.current !== undefined && this.now() < this.current.renewAt) return this.current.token;
    this.pending ??= this.issue(signal)
      .then((answer) => {
        const lifeMs = answer.expiresIn * 1000;
        this.current = { token: answer.token, renewAt: this.now() + lifeMs - Math.min(30_000, lifeMs / 10) };
        return answer.token;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  /** Forgets `token` (the gateway called it expired), so the next get() asks for a new one. */
  invalidate(token: string): void {
    if (this.current?.token === token) this.current = undefined;
  }
}
