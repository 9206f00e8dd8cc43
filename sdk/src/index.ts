/**
 * @rollgate/sdk: a typed client of the rollgate gateway for Node 20 and
 * browsers. See sdk/README.md.
 */
export { RollgateClient, type ApiCallOptions, type Connection, type CallOptions, type ClientOptions, type GraphQLDocument, type RetryEvent } from './client.js';
export { TokenCache, type AppCodeAuth, type Auth, type BearerAuth, type JwtAuth, type SignatureAuth, type TokenProvider } from './auth.js';
export * from './apis.js';
export { ErrorCodes, errorCodeName, type ErrorCodeName } from './error-codes.js';
export {
  isRetriableStatus,
  RollgateApiError,
  RollgateGraphQLError,
  RollgateNetworkError,
  RollgateSdkError,
  RollgateTimeoutError,
  type GraphQLErrorEntry,
} from './errors.js';
export { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
export { stringToSign, signRequest, type RequestToSign } from './signature.js';
export * from './generated/graphql.js';
