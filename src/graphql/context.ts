import type { Config } from '../config.js';
import type { RollupService } from '../dataservice/rollup-service.js';

export interface GraphQLContext {
  rollups: RollupService;
  limits: Config['api'];
  requestId: string;
}
