import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { ErrorCodes, RollgateError } from '../errors.js';

/**
 * Every GraphQL error leaves with `extensions.code` from the shared enum and
 * its numeric `errCode`. Unknown failures are masked: no message text or
 * stack trace of an internal error reaches a client.
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
  const apolloCode = formatted.extensions?.['code'];
  // Apollo's own request errors (parse, validation, bad variables) are the client's fault.
  if (typeof apolloCode === 'string' && apolloCode !== 'INTERNAL_SERVER_ERROR') {
    return {
      message: formatted.message,
      ...(formatted.locations === undefined ? {} : { locations: formatted.locations }),
      extensions: { code: 'INVALID_PARAMETER', errCode: ErrorCodes.INVALID_PARAMETER.errCode, reason: apolloCode },
    };
  }
  return {
    message: 'internal error',
    ...(formatted.path === undefined ? {} : { path: formatted.path }),
    extensions: { code: 'INTERNAL', errCode: ErrorCodes.INTERNAL.errCode },
  };
}
