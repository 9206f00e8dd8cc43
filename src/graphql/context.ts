import type { Config } from '../config.js';
import type { ApiService } from '../dataservice/api-service.js';
import type { DataSources } from '../dataservice/data-sources.js';
import type { ResultCache } from '../dataservice/result-cache.js';
import type { AppService } from '../auth/apps.js';
import type { Principal } from '../auth/authenticator.js';
import { createLoaders, type Loaders } from './loaders.js';

export interface GraphQLContext {
  /** Rollup queries read through the built-in DataService APIs: same checks, same cache as REST. */
  apis: ApiService;
  cache: ResultCache;
  /** The catalog an admin reads through the `admin` field. */
  dataSources: DataSources;
  apps: AppService;
  limits: Config['api'];
  requestId: string;
  /** The app calling (the /graphql auth hook ran); each field that reads an API checks its grant. */
  principal: Principal | undefined;
  /** The caller presented admin credentials; only then does the `admin` field answer. */
  admin: boolean;
  /** This request's batching and de-duplication of lookups; never shared between requests (grants differ). */
  loaders: Loaders;
}

export interface ContextServices {
  apis: ApiService;
  cache: ResultCache;
  dataSources: DataSources;
  apps: AppService;
  limits: Config['api'];
}

/** One request's context: HTTP (and any other transport) builds it from the caller it authenticated. */
export function createContext(services: ContextServices, caller: { requestId: string; principal: Principal | undefined; admin: boolean }): GraphQLContext {
  const partial = { ...services, ...caller };
  return { ...partial, loaders: createLoaders(partial) };
}
