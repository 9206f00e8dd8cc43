/**
 * The gateway's public error codes (`errCode` in the REST envelope,
 * `extensions.errCode` in GraphQL), by name. The SDK ships without the
 * server, so it keeps its own copy; a unit test fails when it differs from
 * src/errors.ts.
 */
export const ErrorCodes = {
  INVALID_PARAMETER: 1400,
  UNAUTHENTICATED: 1401,
  FORBIDDEN: 1403,
  NOT_FOUND: 1404,
  METHOD_NOT_ALLOWED: 1405,
  CONFLICT: 1409,
  MISSING_PARAMETER: 1410,
  PAYLOAD_TOO_LARGE: 1413,
  QUERY_TOO_COMPLEX: 1422,
  PERSISTED_QUERY_NOT_FOUND: 1412,
  RATE_LIMITED: 1429,
  INTERNAL: 1500,
  DATASOURCE_ERROR: 1502,
  DEPENDENCY_UNAVAILABLE: 1503,
  QUERY_TIMEOUT: 1504,
  INVALID_EVENT: 2001,
  LATE_EVENT: 2002,
  INVALID_CONFIG: 3001,
  SIGNATURE_MISMATCH: 4101,
  NONCE_REPLAYED: 4102,
  TIMESTAMP_SKEW: 4103,
  CONTENT_MD5_MISMATCH: 4104,
  TOKEN_EXPIRED: 4105,
  TOKEN_INVALID: 4106,
  APP_DISABLED: 4301,
  IP_NOT_ALLOWED: 4302,
  NOT_GRANTED: 4303,
  INVALID_FLOW_SQL: 5001,
  INVALID_FLOW_GRAPH: 5002,
  FLOW_STATE_CONFLICT: 5009,
} as const;

export type ErrorCodeName = keyof typeof ErrorCodes;

const NAMES = new Map<number, ErrorCodeName>(Object.entries(ErrorCodes).map(([name, code]) => [code, name as ErrorCodeName]));

/** The name of a numeric errCode; `UNKNOWN` for a code this SDK version does not know yet. */
export function errorCodeName(errCode: number): ErrorCodeName | 'UNKNOWN' {
  return NAMES.get(errCode) ?? 'UNKNOWN';
}

/** The errCode to report for an HTTP failure whose body is not the gateway's envelope (a proxy's page, an empty body). */
export function errCodeForStatus(status: number): number {
  switch (status) {
    case 400:
      return ErrorCodes.INVALID_PARAMETER;
    case 401:
      return ErrorCodes.UNAUTHENTICATED;
    case 403:
      return ErrorCodes.FORBIDDEN;
    case 404:
      return ErrorCodes.NOT_FOUND;
    case 405:
      return ErrorCodes.METHOD_NOT_ALLOWED;
    case 413:
      return ErrorCodes.PAYLOAD_TOO_LARGE;
    case 429:
      return ErrorCodes.RATE_LIMITED;
    case 502:
    case 503:
      return ErrorCodes.DEPENDENCY_UNAVAILABLE;
    case 504:
      return ErrorCodes.QUERY_TIMEOUT;
    default:
      return status >= 400 && status < 500 ? ErrorCodes.INVALID_PARAMETER : ErrorCodes.INTERNAL;
  }
}
