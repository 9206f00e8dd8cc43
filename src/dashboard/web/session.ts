import { RollgateApiError, RollgateClient, type TokenProvider } from '../../../sdk/src/index.js';

/**
 * Where the page's bearer tokens come from: the gateway's open dashboard
 * session (`/dashboard/session`, when DASHBOARD_APP_KEY is set), or an AppCode
 * the viewer types, exchanged at `/auth/token`. Either way a token is kept
 * until shortly before it expires; the SDK asks again when the gateway says
 * it expired.
 */
interface Issued {
  token: string;
  expiresIn: number;
}

function cached(issue: (signal: AbortSignal) => Promise<Issued>): TokenProvider {
  let current: { token: string; renewAt: number } | undefined;
  return async (signal) => {
    if (current !== undefined && Date.now() < current.renewAt) return current.token;
    const { token, expiresIn } = await issue(signal);
    current = { token, renewAt: Date.now() + expiresIn * 900 };
    return token;
  };
}

/** The open session's token source, or undefined when this gateway has none (404). */
export async function openSession(base: string): Promise<TokenProvider | undefined> {
  const issue = async (signal?: AbortSignal): Promise<Issued> => {
    const res = await fetch(`${base}/dashboard/session`, { headers: { accept: 'application/json' }, ...(signal === undefined ? {} : { signal }) });
    const body = (await res.json().catch(() => undefined)) as { errCode?: number; errMsg?: string; data?: Issued } | undefined;
    if (!res.ok || body?.data === undefined) throw Object.assign(new Error(body?.errMsg ?? `HTTP ${res.status}`), { status: res.status });
    return body.data;
  };
  try {
    const first = await issue();
    let handed = false;
    const provider = cached(issue);
    // The first token is already here: hand it out once instead of asking twice.
    return async (signal) => {
      if (!handed) {
        handed = true;
        return first.token;
      }
      return provider(signal);
    };
  } catch (err) {
    if ((err as { status?: number }).status === 404) return undefined;
    throw err;
  }
}

/** A token source from an AppCode; rejects with the gateway's reason when the code is not accepted. */
export async function signIn(base: string, appCode: string): Promise<TokenProvider> {
  const issuer = new RollgateClient({ baseUrl: base, auth: { type: 'appCode', appCode }, retry: false, timeoutMs: 10_000 });
  const provider = cached((signal) => issuer.issueToken({ signal }));
  await provider(new AbortController().signal);
  return provider;
}

/** The page's client: no retries of its own (the page polls, with backoff), a short deadline so a lost gateway shows soon. */
export function dashboardClient(base: string, token: TokenProvider): RollgateClient {
  return new RollgateClient({ baseUrl: base, auth: { type: 'bearer', token }, retry: false, timeoutMs: 10_000 });
}

/** The gateway answered (with an error): it is reachable. Anything else (network, timeout) means it is not. */
export function answered(err: unknown): boolean {
  return err instanceof RollgateApiError;
}
