import type { Cache } from '../cache/cache.js';
import type { RollupRevisions } from '../cache/rollup-revisions.js';
import type { Config } from '../config.js';
import type { RollupSpec } from '../core/rollup-spec.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { SecretBox } from '../security/secret-box.js';
import { AppCodeHasher } from '../auth/appcode.js';
import { AppService } from '../auth/apps.js';
import { apiGrant, FLOWS_GRANT } from '../auth/grants.js';
import { TokenService } from '../auth/jwt.js';
import { ApiService } from './api-service.js';
import { builtinHostApis, builtinRegionOrderApis, builtinRollupApi } from './builtins.js';
import { regionOrders } from '../../aggregators/region-orders.js';
import { cpuMem5min } from '../../aggregators/cpu-mem-5min.js';
import { CatalogStore } from './catalog/catalog-store.js';
import type { SqlClient } from './catalog/sql-client.js';
import { DataSources, type BuiltinDataSource } from './data-sources.js';
import { ResultCache } from './result-cache.js';
import { FlowService } from '../flows/flow-service.js';
import { FlowStore } from '../flows/flow-store.js';
import { FLOW_API_GROUP } from '../flows/publish-api.js';
import { embeddedMasterKey } from '../security/master-key.js';
import { HostAllowlist } from './host-allowlist.js';


export interface DataService {
  apis: ApiService;
  dataSources: DataSources;
  cache: ResultCache;
  /** The apps that call published APIs, and the bearer tokens they get (src/auth). */
  appRegistry: AppService;
  tokens: TokenService;
  /** DataFlow management (seeds 000/001); its flows live beside the catalog. */
  flows: FlowService;
  close(): Promise<void>;
}

export interface DataServiceDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** Where data sources and API definitions live. */
  catalog: SqlClient;
  sharedCache: Cache;
  revisions: RollupRevisions;
  builtinSources: readonly BuiltinDataSource[];
  rollups: readonly RollupSpec[];
}

/** The DataService layer: catalog, data sources, the API lifecycle and route table, the result cache. */
export async function createDataService(deps: DataServiceDeps): Promise<DataService> {
  const { config, logger } = deps;
  const catalog = new CatalogStore(deps.catalog);
  await catalog.init();
  const masterKey = config.secrets.masterKey ?? embeddedMasterKey(config.secrets.dataDir, logger);
  const box = new SecretBox(masterKey);
  const dataSources = new DataSources(
    catalog,
    box,
    deps.builtinSources,
    logger.child({ component: 'datasources' }),
    new HostAllowlist(config.dataSources.allowedHosts),
  );
  // The host views read cpu-mem-5min: only where that rollup is served.
  const hostApis = deps.rollups.some((r) => r.name === cpuMem5min.name) ? builtinHostApis() : [];
  const builtinApis = [...deps.rollups.map(builtinRollupApi), ...hostApis, ...builtinRegionOrderApis()];
  const apis = new ApiService(catalog, dataSources, builtinApis, logger.child({ component: 'apis' }));
  await apis.start();
  const appRegistry = new AppService(catalog, box, new AppCodeHasher(masterKey), logger.child({ component: 'apps' }));
  await appRegistry.start();
  const bootstrap = config.auth.bootstrapApp;
  if (bootstrap !== undefined) {
    // Every built-in API, flow management and the APIs flows publish: what a first user or a test needs to call anything.
    await appRegistry.bootstrap(bootstrap, [...builtinApis.map((api) => apiGrant(api.definition.name)), FLOWS_GRANT, `group:${FLOW_API_GROUP}`]);
    logger.info({ appKey: bootstrap.appKey }, 'bootstrap app ready');
  }
  const flowStore = new FlowStore(deps.catalog);
  await flowStore.init();
  const flows = new FlowService({ store: flowStore, knownSources: deps.rollups, topicPrefix: config.topicPrefix, logger: logger.child({ component: 'flows' }) });
  const cache = new ResultCache(
    deps.sharedCache,
    deps.revisions,
    new Set([...deps.rollups.map((r) => r.sink.table), ...Object.values(regionOrders.tables)].map((t) => t.toLowerCase())),
    config.cache,
    deps.metrics,
    logger.child({ component: 'result-cache' }),
  );
  return {
    apis,
    dataSources,
    cache,
    appRegistry,
    tokens: new TokenService(config.auth.jwt, masterKey),
    flows,
    close: async () => {
      apis.stop();
      appRegistry.stop();
      await dataSources.close();
    },
  };
}
