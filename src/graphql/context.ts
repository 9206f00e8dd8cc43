import type { Config } from '../config.js';
import type { ApiService } from '../dataservice/api-service.js';
import type { ResultCache } from '../dataservice/result-cache.js';
import type { Principal } from '../auth/authenticator.js';

export interface GraphQLContext {
  /** Rollup queries read through the built-in DataService APIs: same checks, same cache as REST. */
  apis: ApiService;
  cache: ResultCache;
  limits: Config['api'];
  requestId: string;
  /** The app calling (the /graphql auth hook ran); each field that reads an API checks its grant. */
  principal: Principal | undefined;
}
