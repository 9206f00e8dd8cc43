/**
 * The one public list of error codes, shared by REST (`errCode`), GraphQL
 * (`extensions.code` + `extensions.errCode`), stream dead letters and the SDK.
 * Numbers are part of the public contract: never renumber, only add.
 */
export const ErrorCodes = {
  INVALID_PARAMETER: { errCode: 1400, httpStatus: 400 },
  UNAUTHENTICATED: { errCode: 1401, httpStatus: 401 },
  FORBIDDEN: { errCode: 1403, httpStatus: 403 },
  NOT_FOUND: { errCode: 1404, httpStatus: 404 },
  METHOD_NOT_ALLOWED: { errCode: 1405, httpStatus: 405 },
  /** A write that clashes with existing state: a taken name or path, deleting a published API. */
  CONFLICT: { errCode: 1409, httpStatus: 409 },
  /** A required request parameter is absent (a present but bad one is INVALID_PARAMETER). */
  MISSING_PARAMETER: { errCode: 1410, httpStatus: 400 },
  PAYLOAD_TOO_LARGE: { errCode: 1413, httpStatus: 413 },
  /** A GraphQL operation over the depth, alias, cost or token limit. */
  QUERY_TOO_COMPLEX: { errCode: 1422, httpStatus: 400 },
  /** An automatic persisted query's hash the server does not know (yet): send the query text with it. */
  PERSISTED_QUERY_NOT_FOUND: { errCode: 1412, httpStatus: 200 },
  RATE_LIMITED: { errCode: 1429, httpStatus: 429 },
  INTERNAL: { errCode: 1500, httpStatus: 500 },
  /** A DataService data source refused or failed a query (unreachable, bad table, server error). */
  DATASOURCE_ERROR: { errCode: 1502, httpStatus: 503 },
  DEPENDENCY_UNAVAILABLE: { errCode: 1503, httpStatus: 503 },
  /** A DataService query ran past its API's timeout. */
  QUERY_TIMEOUT: { errCode: 1504, httpStatus: 504 },
  // Stream input: the reason recorded on a dead-letter record.
  INVALID_EVENT: { errCode: 2001, httpStatus: 400 },
  LATE_EVENT: { errCode: 2002, httpStatus: 400 },
  // Configuration problems found at start-up.
  INVALID_CONFIG: { errCode: 3001, httpStatus: 500 },
  // Calls of /api, /graphql and /auth/token that fail authentication (401) or authorisation (403).
  /** X-Ca-Signature does not match the server's string to sign (sent back in X-Ca-Error-Message). */
  SIGNATURE_MISMATCH: { errCode: 4101, httpStatus: 401 },
  /** X-Ca-Nonce was already used within the timestamp window. */
  NONCE_REPLAYED: { errCode: 4102, httpStatus: 401 },
  /** X-Ca-Timestamp is not epoch milliseconds within 15 minutes of the server clock. */
  TIMESTAMP_SKEW: { errCode: 4103, httpStatus: 401 },
  /** Content-MD5 is missing for a non-form body, or does not match the body. */
  CONTENT_MD5_MISMATCH: { errCode: 4104, httpStatus: 401 },
  /** The bearer token has expired. */
  TOKEN_EXPIRED: { errCode: 4105, httpStatus: 401 },
  /** The bearer token is malformed, signed with an unknown kid or key, or meant for another audience. */
  TOKEN_INVALID: { errCode: 4106, httpStatus: 401 },
  /** The app is disabled. */
  APP_DISABLED: { errCode: 4301, httpStatus: 403 },
  /** The client address is outside the app's IP allowlist. */
  IP_NOT_ALLOWED: { errCode: 4302, httpStatus: 403 },
  /** The app holds no grant for this API (or GraphQL field). */
  NOT_GRANTED: { errCode: 4303, httpStatus: 403 },
  // DataFlow (/dataflow): a flow refused at create, patch or start.
  /** A realtime node's SQL does not parse or uses what the engine cannot compute; the message names line and column. */
  INVALID_FLOW_SQL: { errCode: 5001, httpStatus: 400 },
  /** The node graph is wrong: a cycle, an unknown node or result table, a field missing from the source schema. */
  INVALID_FLOW_GRAPH: { errCode: 5002, httpStatus: 400 },
  /** The call does not fit the flow's state: deleting or patching a running flow. */
  FLOW_STATE_CONFLICT: { errCode: 5009, httpStatus: 409 },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export interface RollgateErrorOptions {
  cause?: unknown;
  /** True when the same call may succeed later (network blips, a restarting broker). */
  retriable?: boolean;
  /** The request field or event field the error is about, when there is one. */
  field?: string;
  /** Sent as X-Ca-Error-Message on an HTTP failure (ASCII, no secrets); the message when absent. */
  headerMessage?: string;
  /** Sent as Retry-After on a 429. */
  retryAfterSeconds?: number;
}

export class RollgateError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly field: string | undefined;
  readonly headerMessage: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options: RollgateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RollgateError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.field = options.field;
    this.headerMessage = options.headerMessage;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  get errCode(): number {
    return ErrorCodes[this.code].errCode;
  }

  get httpStatus(): number {
    return ErrorCodes[this.code].httpStatus;
  }
}

export function invalidParameter(field: string, message: string): RollgateError {
  return new RollgateError('INVALID_PARAMETER', message, { field });
}

export function missingParameter(field: string): RollgateError {
  return new RollgateError('MISSING_PARAMETER', `${field} is required`, { field });
}

export function dependencyUnavailable(dependency: string, cause: unknown): RollgateError {
  return new RollgateError('DEPENDENCY_UNAVAILABLE', `${dependency} is unavailable`, {
    cause,
    retriable: true,
  });
}

/** Any thrown value as a RollgateError; unknown failures become INTERNAL without leaking their text. */
export function toRollgateError(err: unknown): RollgateError {
  if (err instanceof RollgateError) return err;
  return new RollgateError('INTERNAL', 'internal error', { cause: err });
}
