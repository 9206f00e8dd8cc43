import DataLoader from 'dataloader';
import type { ApiService, ApiView } from '../dataservice/api-service.js';
import type { DataSources, DataSourceView } from '../dataservice/data-sources.js';
import type { PagedData, UnpagedData } from '../dataservice/execute-api.js';
import type { ResultCache } from '../dataservice/result-cache.js';
import type { Config } from '../config.js';
import type { Principal } from '../auth/authenticator.js';
import { authorize } from '../auth/authenticator.js';
import { RollgateError } from '../errors.js';

/**
 * Every lookup a resolver makes goes through one of these, created afresh
 * for each request. DataLoader collects the loads of one tick of execution
 * (all the sibling fields of a list) and hands them over as one batch, so a
 * list of N items costs one store call, not N; within the request, equal
 * keys are loaded once. Nothing is kept between requests: grants and
 * catalog state are per caller and change.
 */
export interface Loaders {
  /** A published API called with a query; the same call (aliases, repeated fields) runs once per request. */
  apiCall: DataLoader<ApiCall, PagedData | UnpagedData, string>;
  /** The trend rows of many regions over one [from, to): one call of region-order-trend for all of them. */
  regionTrend: DataLoader<RegionTrendKey, Array<Record<string, unknown>>, string>;
  /** Data sources by name: one listing for the whole request. */
  dataSource: DataLoader<string, DataSourceView | undefined>;
  /** APIs (any state) by name, and by group: one listing for the whole request. */
  apiByName: DataLoader<string, ApiView | undefined>;
  apisByGroup: DataLoader<string, ApiView[]>;
}

export interface ApiCall {
  path: string;
  query: Record<string, string | string[]>;
}

export interface RegionTrendKey {
  region: string;
  from?: string | undefined;
  to?: string | undefined;
}

interface LoaderDeps {
  apis: ApiService;
  cache: ResultCache;
  dataSources: DataSources;
  limits: Config['api'];
  principal: Principal | undefined;
}

export const TREND_PATH = '/region-order-trend';

export function createLoaders(deps: LoaderDeps): Loaders {
  const call = async ({ path, query }: ApiCall): Promise<PagedData | UnpagedData> => {
    const api = deps.apis.route(path);
    if (api === undefined) throw new RollgateError('NOT_FOUND', `no API is published at ${path} any more`);
    // The field reads the API, so the API's grant decides, as over REST.
    authorize(deps.principal, api.definition);
    return (await deps.apis.call(api, { query }, { limits: deps.limits, cache: deps.cache })).data;
  };
  const settle = <T>(p: Promise<T>): Promise<T | Error> => p.catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));

  // One listing of the catalog per request, shared by the by-name and by-group loaders.
  let apiList: Promise<ApiView[]> | undefined;
  const listApis = () => (apiList ??= deps.apis.list());

  return {
    apiCall: new DataLoader((keys) => Promise.all(keys.map((k) => settle(call(k)))), { cacheKeyFn: apiCallKey }),
    regionTrend: new DataLoader(
      async (keys) => {
        // Regions asking for the same window share one call without a region filter.
        const byWindow = new Map<string, Promise<Array<Record<string, unknown>> | Error>>();
        for (const k of keys) {
          const window = JSON.stringify([k.from ?? null, k.to ?? null]);
          if (!byWindow.has(window)) {
            const query: Record<string, string> = {};
            if (k.from !== undefined) query['from'] = k.from;
            if (k.to !== undefined) query['to'] = k.to;
            byWindow.set(window, settle(call({ path: TREND_PATH, query }).then((d) => d.rows)));
          }
        }
        return Promise.all(
          keys.map(async (k) => {
            const rows = await byWindow.get(JSON.stringify([k.from ?? null, k.to ?? null]));
            return rows instanceof Error || rows === undefined ? (rows ?? []) : rows.filter((r) => r['order_region'] === k.region);
          }),
        );
      },
      { cacheKeyFn: (k) => JSON.stringify([k.region, k.from ?? null, k.to ?? null]) },
    ),
    dataSource: new DataLoader(async (names) => {
      const all = await deps.dataSources.list();
      return names.map((n) => all.find((d) => d.name === n));
    }),
    apiByName: new DataLoader(async (names) => {
      const all = await listApis();
      return names.map((n) => all.find((a) => a.name === n));
    }),
    apisByGroup: new DataLoader(async (groups) => {
      const all = await listApis();
      return groups.map((g) => all.filter((a) => a.group === g));
    }),
  };
}

/** Equal calls, however their parameters were ordered, share one key. */
function apiCallKey({ path, query }: ApiCall): string {
  return JSON.stringify([path, Object.entries(query).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
}
