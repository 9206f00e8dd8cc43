import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ErrorCodes, RollgateError, type ErrorCode } from '../errors.js';
import { isTokenLimitError, TOO_COMPLEX } from './limits.js';

/**
 * Every GraphQL error leaves with `extensions.code` from the shared enum and
 * its numeric `errCode`. Unknown failures are masked: no message text or
 * stack trace of an internal error reaches a client, in any environment.
 */
export function formatGraphQLError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof RollgateError) {
    return {
      message: original.message,
      ...(formatted.locations === undefined ? {} : { locations: formatted.locations }),
      ...(formatted.path === undefined ? {} : { path: formatted.path }),
      extensions: {
        code: original.code,
        errCode: original.errCode,
        ...(original.field === undefined ? {} : { field: original.field }),
      },
    };
  }
  const given = formatted.extensions?.['code'];
  // Apollo's own request errors (parse, validation, bad variables, batching) and the limits are the client's fault.
  if (typeof given === 'string' && given !== 'INTERNAL_SERVER_ERROR') {
    const code = clientCode(refusedAs(error) ?? given, formatted.message);
    return {
      message: formatted.message,
      ...(formatted.locations === undefined ? {} : { locations: formatted.locations }),
      extensions: { code, errCode: ErrorCodes[code].errCode, ...(code === 'INVALID_PARAMETER' ? { reason: given } : {}) },
    };
  }
  // Apollo's refusals before execution (a persisted-query hash that does not match, an unknown APQ version)
  // carry the HTTP status they answer with, but no code of their own.
  if (clientStatus(error)) {
    return { message: formatted.message, extensions: { code: 'INVALID_PARAMETER', errCode: ErrorCodes.INVALID_PARAMETER.errCode, reason: 'BAD_REQUEST' } };
  }
  return {
    message: 'internal error',
    ...(formatted.path === undefined ? {} : { path: formatted.path }),
    extensions: { code: 'INTERNAL', errCode: ErrorCodes.INTERNAL.errCode },
  };
}

function clientStatus(error: unknown): boolean {
  const status = error instanceof GraphQLError ? (error.extensions['http'] as { status?: unknown } | undefined)?.status : undefined;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** Apollo re-wraps validation errors under its own code; the limits' code stays on the original. */
function refusedAs(error: unknown): string | undefined {
  for (let e: unknown = error, hops = 0; e instanceof GraphQLError && hops < 3; e = e.originalError, hops++) {
    if (e.extensions['code'] === TOO_COMPLEX) return TOO_COMPLEX;
  }
  return undefined;
}

function clientCode(apolloCode: string, message: string): ErrorCode {
  if (apolloCode === TOO_COMPLEX || (apolloCode === 'GRAPHQL_PARSE_FAILED' && isTokenLimitError(message))) return 'QUERY_TOO_COMPLEX';
  // Apollo Client's persisted-query link looks for this very code (and message) to send the full query.
  if (apolloCode === 'PERSISTED_QUERY_NOT_FOUND') return 'PERSISTED_QUERY_NOT_FOUND';
  return 'INVALID_PARAMETER';
}
