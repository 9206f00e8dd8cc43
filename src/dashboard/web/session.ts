import { RollgateApiError, RollgateClient, TokenCache, type TokenProvider } from '../../../sdk/src/index.js';

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

/** Tokens kept until shortly before they expire, one request for concurrent callers (the SDK's own cache). */
function cached(issue: (signal: AbortSignal) => Promise<Issued>): TokenProvider {
  const cache = new TokenCache(issue);
  return (signal) => cache.get(signal);
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
    // The first answer is already here (it told us there is a session): the cache's first issue hands it out.
    let first: Issued | undefined = await issue();
    return cached(async (signal) => {
      const seeded = first;
      first = undefined;
      return seeded ?? issue(signal);
    });
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
