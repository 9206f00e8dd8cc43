import { errorCodeName, type ErrorCodeName } from './error-codes.js';

/** Every failure the SDK throws, except an abort of the caller's own signal (that rethrows the signal's reason). */
export class RollgateSdkError extends Error {
  /** True when the same call may succeed later: the client has already retried it as far as its policy allows. */
  readonly retriable: boolean;

  constructor(message: string, retriable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RollgateSdkError';
    this.retriable = retriable;
  }
}

export interface ApiErrorDetails {
  errCode: number;
  message: string;
  httpStatus: number;
  requestId?: string | undefined;
  /** The X-Ca-Error-Message header; for a signature mismatch it holds the server's string to sign. */
  serverMessage?: string | undefined;
  retryAfterMs?: number | undefined;
  /** How many requests were sent for this call (1 when it was not retried). */
  attempts: number;
}

/** The gateway answered with an error: the envelope's errCode and errMsg, the HTTP status and the request id. */
export class RollgateApiError extends RollgateSdkError {
  readonly errCode: number;
  /** The errCode's name in the gateway's error-code table, e.g. `INVALID_PARAMETER`. */
  readonly code: ErrorCodeName | 'UNKNOWN';
  readonly httpStatus: number;
  readonly requestId: string | undefined;
  readonly serverMessage: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly attempts: number;

  constructor(details: ApiErrorDetails) {
    super(details.message, isRetriableStatus(details.httpStatus));
    this.name = 'RollgateApiError';
    this.errCode = details.errCode;
    this.code = errorCodeName(details.errCode);
    this.httpStatus = details.httpStatus;
    this.requestId = details.requestId;
    this.serverMessage = details.serverMessage;
    this.retryAfterMs = details.retryAfterMs;
    this.attempts = details.attempts;
  }
}

/** One entry of a GraphQL response's `errors`. */
export interface GraphQLErrorEntry {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: { code?: string; errCode?: number; [key: string]: unknown };
}

/** A GraphQL response with `errors`: errCode and code come from the first error; `data` holds what did resolve. */
export class RollgateGraphQLError extends RollgateApiError {
  readonly errors: readonly GraphQLErrorEntry[];
  readonly data: unknown;

  constructor(errors: readonly GraphQLErrorEntry[], data: unknown, details: Omit<ApiErrorDetails, 'errCode' | 'message'>) {
    const first = errors[0];
    super({ ...details, errCode: first?.extensions?.errCode ?? 1500, message: errors.map((e) => e.message).join('; ') || 'GraphQL error' });
    this.name = 'RollgateGraphQLError';
    this.errors = errors;
    this.data = data;
  }
}

/** No HTTP answer: the connection failed or was cut. Retried by the client's policy before it is thrown. */
export class RollgateNetworkError extends RollgateSdkError {
  readonly attempts: number;

  constructor(message: string, attempts: number, cause: unknown) {
    super(message, true, { cause });
    this.name = 'RollgateNetworkError';
    this.attempts = attempts;
  }
}

/** The call, retries and waits included, ran past its `timeoutMs`. */
export class RollgateTimeoutError extends RollgateSdkError {
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(`the call did not finish within ${timeoutMs} ms`, true);
    this.name = 'RollgateTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** 429 and the gateway-side 5xx a retry can cure; never any other 4xx, and not 500 (a bug does not heal by asking again). */
export function isRetriableStatus(status: number): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504;
}
