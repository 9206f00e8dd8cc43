import type { Config } from '../config.js';
import type { ApiService } from '../dataservice/api-service.js';
import type { ResultCache } from '../dataservice/result-cache.js';

export interface GraphQLContext {
  /** Rollup queries read through the built-in DataService APIs: same checks, same cache as REST. */
  apis: ApiService;
  cache: ResultCache;
  limits: Config['api'];
  requestId: string;
}
