import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
import type { BuiltinApis, Page, Params, ParamScalar, ParamValue, TokenResponse, UnpagedData } from './apis.js';
import { TokenCache, type AppCodeAuth, type Auth, type SignatureAuth } from './auth.js';
import { errCodeForStatus, ErrorCodes } from './error-codes.js';
import {
  isRetriableStatus,
  RollgateApiError,
  RollgateGraphQLError,
  RollgateNetworkError,
  RollgateSdkError,
  RollgateTimeoutError,
  type GraphQLErrorEntry,
} from './errors.js';
import { DEFAULT_RETRY, parseRetryAfter, retryDelayMs, type RetryPolicy } from './retry.js';
import { signRequest } from './signature.js';

/** What `nodes()` needs of a Relay connection. */
export interface Connection<TNode> {
  edges: ReadonlyArray<{ node: TNode }>;
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
}

export interface ClientOptions {
  /** The gateway, e.g. `http://127.0.0.1:4000`. */
  baseUrl: string;
  auth: Auth;
  /** Deadline of one call, retries and their waits included (default 30 s; 0 for none). */
  timeoutMs?: number;
  /** Retry policy for 429, 502, 503, 504 and network errors; `false` never retries. */
  retry?: Partial<RetryPolicy> | false;
  /** Told before each retry, with the wait chosen (for logs and metrics). */
  onRetry?: (event: RetryEvent) => void;
  /** Another fetch (instrumented, or with a proxy agent); the global one by default. */
  fetch?: typeof fetch;
  /** Sent with every request (signed when named `x-ca-…` and the signature is used). */
  headers?: Record<string, string>;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy> | false;
}

export interface ApiCallOptions extends CallOptions {
  /** The API's HTTP method (GET by default). POST sends the parameters as a JSON body. */
  method?: 'GET' | 'POST';
}

export interface RetryEvent {
  /** 1 for the first retry. */
  retry: number;
  delayMs: number;
  error: RollgateApiError | RollgateNetworkError;
}

/** Parameters the gateway reads from the query string even for a POST API. */
const QUERY_ONLY = new Set(['pageNum', 'pageSize', 'format', 'appCode']);
const JSON_TYPE = 'application/json';
const GRAPHQL_ACCEPT = 'application/graphql-response+json, application/json;q=0.9';

interface HttpRequest {
  method: 'GET' | 'POST';
  /** Path under the base URL, e.g. `/api/cpu-mem-5min`. */
  path: string;
  query: Array<[string, string]>;
  body?: string;
  accept: string;
}

interface HttpAnswer {
  status: number;
  headers: Headers;
  /** The parsed JSON body; undefined when the body is empty or not JSON. */
  json: unknown;
}

type RowOf<P> = P extends keyof BuiltinApis ? BuiltinApis[P]['row'] : Record<string, unknown>;
type ParamsOf<P> = P extends keyof BuiltinApis ? BuiltinApis[P]['params'] : Params;
/** A GraphQL operation: a generated `…Document` (TypedDocumentString), or a plain query string typed by the caller. */
export type GraphQLDocument<TResult, TVariables> = (DocumentTypeDecoration<TResult, TVariables> & { toString(): string }) | string;

/**
 * The rollgate client: published APIs under /api (one call, pages, rows),
 * GraphQL, and JWTs from /auth/token. It uses only fetch and WebCrypto, so the
 * same code runs in Node 20 and in browsers.
 */
export class RollgateClient {
  private readonly baseUrl: URL;
  private readonly auth: Auth;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy | false;
  private readonly onRetry: ((event: RetryEvent) => void) | undefined;
  private readonly headers: Record<string, string>;
  private readonly tokens: TokenCache | undefined;

  constructor(options: ClientOptions) {
    this.baseUrl = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    this.auth = options.auth;
    // Bound: a browser's fetch called as a method of another object throws "Illegal invocation".
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retry = options.retry === false ? false : { ...DEFAULT_RETRY, ...options.retry };
    this.onRetry = options.onRetry;
    this.headers = Object.fromEntries(Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const auth = options.auth;
    this.tokens = auth.type === 'jwt' ? new TokenCache((signal) => this.requestToken(auth.credentials, signal)) : undefined;
  }

  /**
   * Calls the published API at `/api/<path>` and returns the envelope's `data`:
   * a Page for a paged API, UnpagedData otherwise, or the bare row array in DataV mode.
   */
  async call<T = unknown>(path: string, params: Params = {}, options: ApiCallOptions = {}): Promise<T> {
    return this.withDeadline(options, (signal, deadline) => this.callApi<T>(path, params, options, signal, deadline));
  }

  /** One page of a paged API; an API without paging answers as a single page holding all its rows. */
  async page<P extends string, Row = RowOf<P>>(path: P, params?: ParamsOf<P>, options?: ApiCallOptions): Promise<Page<Row>> {
    const data = await this.call<Page<Row> | UnpagedData<Row> | Row[]>(path, (params ?? {}) as Params, options);
    return asPage(data);
  }

  /**
   * Every page from `pageNum` (default 1) on, until the last. The gateway
   * orders each API's rows totally, so the pages neither overlap nor skip
   * rows while the data stands still. `options.signal` and `timeoutMs` apply to each page.
   */
  async *pages<P extends string, Row = RowOf<P>>(path: P, params?: ParamsOf<P>, options: ApiCallOptions = {}): AsyncGenerator<Page<Row>, void, undefined> {
    const given = (params ?? {}) as Params;
    let pageNum = given['pageNum'] === undefined || given['pageNum'] === null ? 1 : Number(given['pageNum']);
    for (;;) {
      const page = await this.page<P, Row>(path, { ...given, pageNum } as ParamsOf<P>, options);
      yield page;
      const seen = (page.pageNum - 1) * page.pageSize + page.rows.length;
      // An API without paging answers page 1 whatever pageNum asks: that one page is all.
      if (page.pageNum !== pageNum || page.rows.length === 0 || page.rows.length < page.pageSize || seen >= page.totalNum) return;
      pageNum = page.pageNum + 1;
    }
  }

  /**
   * Every row of every page: `for await (const row of client.rows('cpu-mem-5min', { ip })) …`.
   * Rows of a built-in API are typed; name another API's row type as `rows<string, MyRow>(path, …)`.
   */
  async *rows<P extends string, Row = RowOf<P>>(path: P, params?: ParamsOf<P>, options: ApiCallOptions = {}): AsyncGenerator<Row, void, undefined> {
    for await (const page of this.pages<P, Row>(path, params, options)) yield* page.rows;
  }

  /**
   * Runs a GraphQL operation (POST /graphql) and returns its `data`. Errors in
   * the answer throw RollgateGraphQLError with the first error's errCode.
   */
  async graphql<TResult, TVariables>(document: GraphQLDocument<TResult, TVariables>, variables?: TVariables, options: CallOptions = {}): Promise<TResult> {
    const body = JSON.stringify({ query: document.toString(), ...(variables === undefined ? {} : { variables }) });
    return this.withDeadline(options, async (signal, deadline) => {
      const request: HttpRequest = { method: 'POST', path: 'graphql', query: [], body, accept: GRAPHQL_ACCEPT };
      const { answer, attempts } = await this.send(request, this.auth, options, signal, deadline, graphqlFailure);
      const result = answer.json as { data?: TResult | null; errors?: GraphQLErrorEntry[] } | undefined;
      if (result?.errors !== undefined && result.errors.length > 0) {
        throw new RollgateGraphQLError(result.errors, result.data, { httpStatus: answer.status, attempts });
      }
      if (result?.data === undefined || result.data === null) throw malformed(answer, attempts, 'a GraphQL answer without data');
      return result.data;
    });
  }

  /**
   * Every node of a Relay connection, page after page: runs `document` with
   * `after` set to the previous page's `endCursor` until `hasNextPage` is
   * false. `select` picks the connection out of the answer, e.g.
   * `(d) => d.cpuMemRollupConnection`. Give `first` in `variables` for the
   * page size; `options` apply to each page.
   *
   *   for await (const row of client.nodes(CpuMemRollupConnectionDocument, { filter: { ip }, first: 500 }, (d) => d.cpuMemRollupConnection)) …
   */
  async *nodes<TResult, TVariables extends { after?: string | null }, TNode>(
    document: GraphQLDocument<TResult, TVariables>,
    variables: TVariables,
    select: (data: TResult) => Connection<TNode>,
    options: CallOptions = {},
  ): AsyncGenerator<TNode, void, undefined> {
    let after = variables.after ?? null;
    for (;;) {
      const connection = select(await this.graphql(document, { ...variables, after }, options));
      for (const edge of connection.edges) yield edge.node;
      const next = connection.pageInfo.endCursor;
      if (!connection.pageInfo.hasNextPage || next === null || next === undefined || connection.edges.length === 0) return;
      after = next;
    }
  }

  /**
   * A JWT from `POST /auth/token`, e.g. for a server to hand to a browser. It
   * is issued to the client's own app: its AppCode or signature credentials,
   * or those a JwtAuth client exchanges.
   */
  async issueToken(options: CallOptions = {}): Promise<TokenResponse> {
    const auth = this.auth;
    if (auth.type === 'bearer') throw new RollgateSdkError('a bearer-token client has no app credentials to exchange for a token', false);
    const credentials = auth.type === 'jwt' ? auth.credentials : auth;
    return this.withDeadline(options, (signal, deadline) => this.requestToken(credentials, signal, options, deadline));
  }

  private async callApi<T>(path: string, params: Params, options: ApiCallOptions, signal: AbortSignal, deadline: number): Promise<T> {
    const method = options.method ?? 'GET';
    const query: Array<[string, string]> = [];
    const bodyFields: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(params)) {
      if (value === undefined || value === null) continue;
      if (method === 'GET' || QUERY_ONLY.has(name)) query.push(...queryPairs(name, value));
      else bodyFields[name] = jsonValue(value);
    }
    const request: HttpRequest = {
      method,
      path: `api/${path.replace(/^\/+/, '')}`,
      query,
      ...(method === 'POST' ? { body: JSON.stringify(bodyFields) } : {}),
      accept: JSON_TYPE,
    };
    const { answer, attempts } = await this.send(request, this.auth, options, signal, deadline, envelopeFailure);
    // DataV mode (per API, or ?format=datav) answers the bare row array.
    if (Array.isArray(answer.json)) return answer.json as T;
    const envelope = answer.json as { errCode?: unknown; data?: unknown } | undefined;
    if (envelope === undefined || envelope.errCode !== 0) throw malformed(answer, attempts, 'an answer that is not the DataService envelope');
    return envelope.data as T;
  }

  /** POST /auth/token; for a JwtAuth client the token request runs inside the deadline of the call that needs it. */
  private async requestToken(
    credentials: AppCodeAuth | SignatureAuth,
    signal: AbortSignal,
    options: CallOptions = {},
    deadline = Number.POSITIVE_INFINITY,
  ): Promise<TokenResponse> {
    const request: HttpRequest = { method: 'POST', path: 'auth/token', query: [], accept: JSON_TYPE };
    const { answer, attempts } = await this.send(request, credentials, options, signal, deadline, envelopeFailure);
    const data = (answer.json as { data?: TokenResponse } | undefined)?.data;
    if (data === undefined || typeof data.token !== 'string') throw malformed(answer, attempts, 'a token answer without a token');
    return data;
  }

  /**
   * Sends `request` until it succeeds, fails for good, or the deadline passes.
   * Auth headers are made per attempt: a signature needs a fresh nonce and
   * timestamp, and a renewed token replaces one the gateway called expired.
   */
  private async send(
    request: HttpRequest,
    auth: Auth,
    options: CallOptions,
    signal: AbortSignal,
    deadline: number,
    failure: (answer: HttpAnswer, attempts: number) => RollgateApiError,
  ): Promise<{ answer: HttpAnswer; attempts: number }> {
    const policy = options.retry === false ? false : options.retry === undefined ? this.retry : { ...(this.retry || DEFAULT_RETRY), ...options.retry };
    const url = new URL(request.path, this.baseUrl);
    for (const [k, v] of request.query) url.searchParams.append(k, v);
    const body = request.body === undefined ? undefined : new TextEncoder().encode(request.body);
    let attempts = 0;
    let retries = 0;
    let renewedToken = false;
    for (;;) {
      signal.throwIfAborted();
      attempts += 1;
      const { headers, token } = await this.authorize(auth, request, url, body, signal);
      let error: RollgateApiError | RollgateNetworkError;
      try {
        const response = await this.fetchImpl(url, { method: request.method, headers, body, signal });
        const answer = await readAnswer(response);
        if (response.ok) return { answer, attempts };
        error = failure(answer, attempts);
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        if (err instanceof RollgateSdkError) throw err;
        error = new RollgateNetworkError(`${request.method} ${url.pathname} failed: ${err instanceof Error ? err.message : String(err)}`, attempts, err);
      }
      if (error instanceof RollgateApiError && error.errCode === ErrorCodes.TOKEN_EXPIRED && token !== undefined && !renewedToken) {
        // The token lapsed in flight (or a provider handed out an old one): one more try with a new token.
        renewedToken = true;
        this.tokens?.invalidate(token);
        continue;
      }
      const retriable = error instanceof RollgateNetworkError || isRetriableStatus(error.httpStatus);
      const delayMs = retriable && policy !== false ? retryDelayMs(policy, retries, error instanceof RollgateApiError ? error.retryAfterMs : undefined) : undefined;
      if (delayMs === undefined || Date.now() + delayMs >= deadline) throw error;
      retries += 1;
      this.onRetry?.({ retry: retries, delayMs, error });
      await sleep(delayMs, signal);
    }
  }

  private async authorize(
    auth: Auth,
    request: HttpRequest,
    url: URL,
    body: Uint8Array | undefined,
    signal: AbortSignal,
  ): Promise<{ headers: Record<string, string>; token?: string }> {
    const headers: Record<string, string> = { ...this.headers, accept: request.accept };
    if (body !== undefined) headers['content-type'] = JSON_TYPE;
    switch (auth.type) {
      case 'appCode':
        return { headers: { ...headers, authorization: `APPCODE ${auth.appCode}` } };
      case 'signature': {
        const query = [...url.searchParams];
        return { headers: await signRequest({ method: request.method, path: url.pathname, headers, query, body }, auth) };
      }
      case 'bearer': {
        const token = typeof auth.token === 'string' ? auth.token : await auth.token(signal);
        return { headers: { ...headers, authorization: `Bearer ${token}` }, ...(typeof auth.token === 'string' ? {} : { token }) };
      }
      case 'jwt': {
        const token = await (this.tokens as TokenCache).get(signal);
        return { headers: { ...headers, authorization: `Bearer ${token}` }, token };
      }
      default: {
        const unknown: never = auth;
        throw new RollgateSdkError(`unknown auth type ${(unknown as { type: string }).type}`, false);
      }
    }
  }

  /** Runs `work` under one AbortSignal that fires on the caller's signal or at the call's deadline. */
  private async withDeadline<T>(options: CallOptions, work: (signal: AbortSignal, deadline: number) => Promise<T>): Promise<T> {
    options.signal?.throwIfAborted();
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const controller = new AbortController();
    const onAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const limited = Number.isFinite(timeoutMs) && timeoutMs > 0;
    const timer = limited ? setTimeout(() => controller.abort(new RollgateTimeoutError(timeoutMs)), timeoutMs) : undefined;
    try {
      return await work(controller.signal, limited ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY);
    } catch (err) {
      throw controller.signal.aborted ? controller.signal.reason : err;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }
}

function asPage<Row>(data: Page<Row> | UnpagedData<Row> | Row[]): Page<Row> {
  if (Array.isArray(data)) return { pageNum: 1, pageSize: data.length, totalNum: data.length, rows: data };
  if ('pageNum' in data && typeof data.pageNum === 'number') return data;
  const rows = Array.isArray(data?.rows) ? data.rows : [];
  return { pageNum: 1, pageSize: rows.length, totalNum: rows.length, rows, truncated: 'truncated' in data && data.truncated === true };
}

async function readAnswer(response: Response): Promise<HttpAnswer> {
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json };
}

/** A REST failure: the envelope's errCode and errMsg, or (from a proxy, say) the status's code. */
function envelopeFailure(answer: HttpAnswer, attempts: number): RollgateApiError {
  const envelope = answer.json as { errCode?: unknown; errMsg?: unknown; requestId?: unknown } | undefined;
  const errCode = typeof envelope?.errCode === 'number' && envelope.errCode !== 0 ? envelope.errCode : errCodeForStatus(answer.status);
  const message = typeof envelope?.errMsg === 'string' ? envelope.errMsg : `HTTP ${answer.status}`;
  return new RollgateApiError({
    errCode,
    message,
    httpStatus: answer.status,
    requestId: typeof envelope?.requestId === 'string' ? envelope.requestId : undefined,
    serverMessage: answer.headers.get('x-ca-error-message') ?? undefined,
    retryAfterMs: parseRetryAfter(answer.headers.get('retry-after')),
    attempts,
  });
}

/** A GraphQL failure status: a GraphQL answer with errors (a bad query), or the envelope of a refused call (auth, rate limit). */
function graphqlFailure(answer: HttpAnswer, attempts: number): RollgateApiError {
  const result = answer.json as { errors?: GraphQLErrorEntry[]; data?: unknown } | undefined;
  if (Array.isArray(result?.errors) && result.errors.length > 0) {
    return new RollgateGraphQLError(result.errors, result.data ?? null, {
      httpStatus: answer.status,
      retryAfterMs: parseRetryAfter(answer.headers.get('retry-after')),
      attempts,
    });
  }
  return envelopeFailure(answer, attempts);
}

function malformed(answer: HttpAnswer, attempts: number, what: string): RollgateApiError {
  return new RollgateApiError({ errCode: ErrorCodes.INTERNAL, message: `the gateway sent ${what} (HTTP ${answer.status})`, httpStatus: answer.status, attempts });
}

function queryPairs(name: string, value: NonNullable<ParamValue>): Array<[string, string]> {
  const values = Array.isArray(value) ? (value as ReadonlyArray<ParamScalar>) : [value as ParamScalar];
  return values.map((v) => [name, v instanceof Date ? v.toISOString() : String(v)]);
}

function jsonValue(value: NonNullable<ParamValue>): unknown {
  if (value instanceof Date) return value.toISOString();
  return value;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    // An 'abort' listener added after the abort never fires.
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
