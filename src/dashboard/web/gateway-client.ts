/**
 * The dashboard's way to the gateway: a bearer token (from the open demo
 * session, or an AppCode exchanged at /auth/token) and GETs of published
 * APIs, unwrapped from the DataService envelope.
 */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly errCode: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

interface Envelope<T> {
  errCode: number;
  errMsg: string;
  data: T;
}

interface TokenAnswer {
  token: string;
  expiresIn: number;
}

/** errCodes of src/errors.ts that mean "get a new token". */
const TOKEN_EXPIRED = 4105;
const TOKEN_INVALID = 4106;

export type Credentials = { kind: 'open-session' } | { kind: 'app-code'; appCode: string };

export class GatewayClient {
  private token: string | undefined;
  private credentials: Credentials | undefined;

  constructor(private readonly base = '') {}

  /** Asks for the open dashboard session; false when this gateway has none (sign in with an AppCode then). */
  async openSession(): Promise<boolean> {
    const res = await fetch(`${this.base}/dashboard/session`, { headers: { accept: 'application/json' } });
    if (res.status === 404) return false;
    this.token = (await unwrap<TokenAnswer>(res)).token;
    this.credentials = { kind: 'open-session' };
    return true;
  }

  async signIn(appCode: string): Promise<void> {
    const res = await fetch(`${this.base}/auth/token`, { method: 'POST', headers: { accept: 'application/json', authorization: `APPCODE ${appCode}` } });
    this.token = (await unwrap<TokenAnswer>(res)).token;
    this.credentials = { kind: 'app-code', appCode };
  }

  /** The bearer token, for the subscription connection. */
  get bearer(): string | undefined {
    return this.token;
  }

  /** A published API's data; an expired token is renewed once with the same credentials. */
  async api<T>(path: string, params: Record<string, string | number | undefined>, signal?: AbortSignal): Promise<T> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) query.set(k, String(v));
    const url = `${this.base}/api/${path}?${query.toString()}`;
    const call = () => fetch(url, { headers: { accept: 'application/json', authorization: `Bearer ${this.token ?? ''}` }, ...(signal === undefined ? {} : { signal }) });
    let res = await call();
    if (res.status === 401 && this.credentials !== undefined) {
      const body = (await res.clone().json().catch(() => undefined)) as Partial<Envelope<unknown>> | undefined;
      if (body?.errCode === TOKEN_EXPIRED || body?.errCode === TOKEN_INVALID) {
        await this.renew();
        res = await call();
      }
    }
    return unwrap<T>(res);
  }

  private async renew(): Promise<void> {
    const credentials = this.credentials;
    if (credentials?.kind === 'open-session') await this.openSession();
    else if (credentials?.kind === 'app-code') await this.signIn(credentials.appCode);
  }
}

async function unwrap<T>(res: Response): Promise<T> {
  const body = (await res.json().catch(() => undefined)) as Partial<Envelope<T>> | undefined;
  if (!res.ok || body === undefined || body.errCode !== 0) {
    throw new GatewayError(res.status, body?.errCode, body?.errMsg ?? `HTTP ${res.status}`);
  }
  return body.data as T;
}
