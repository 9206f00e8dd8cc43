import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { invalidParameter, RollgateError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ApiRecord, ApiState, ApiVersion, CatalogStore } from './catalog/catalog-store.js';
import type { DataSources } from './data-sources.js';
import { CatalogFollower } from './catalog/catalog-follower.js';
import { ApiDefinitionSchema, type ApiDefinition } from './definition.js';
import { executeApi, type ExecutionContext, type ExecutionResult } from './execute-api.js';
import type { RawRequest } from './bind-request.js';
import { prepareApi, type PreparedApi } from './prepare-api.js';
import { ScriptRefused } from './sql-guard.js';
import { parseInput } from './validation-errors.js';

/** An API shipped with the deployment (a rollup), always published at version 1 and not editable. */
export interface BuiltinApi {
  id: string;
  definition: ApiDefinition;
}

/** An API as the admin endpoints show it. */
export interface ApiView {
  id: string;
  name: string;
  group: string;
  path: string;
  method: string;
  status: ApiState['status'];
  /** The version being served, or last served when offline. */
  version: number | null;
  latestVersion: number;
  /** The draft differs from the latest version: publishing would make a new one. */
  draftChanged: boolean;
  builtin: boolean;
  definition: ApiDefinition;
  createdAt: string | null;
  updatedAt: string | null;
  updatedBy: string | null;
}

export interface ServedApi {
  id: string;
  version: number;
  definition: ApiDefinition;
  builtin: boolean;
}

/**
 * The API lifecycle (draft → test → publish vN → offline, edits make a new
 * draft, rollback to any version) over the catalog, and the route table of
 * what is published. Other gateway instances' changes arrive by polling the
 * catalog revision; this instance's own apply at once.
 */
export class ApiService {
  private routes = new Map<string, ServedApi>();
  private readonly follower: CatalogFollower;
  /** Served versions ready to run, with the identity of their data source; emptied whenever the catalog moves. */
  private readonly prepared = new Map<string, Promise<{ api: PreparedApi; source: string }>>();
  private readonly routeListeners = new Set<() => void>();

  constructor(
    private readonly catalog: CatalogStore,
    private readonly dataSources: DataSources,
    private readonly builtins: readonly BuiltinApi[],
    private readonly logger: Logger,
  ) {
    this.follower = new CatalogFollower(catalog, (moved) => this.loadRoutes(moved), logger, 'the published APIs');
    dataSources.onChange(() => this.refresh(true));
  }

  start(): Promise<void> {
    return this.follower.start();
  }

  stop(): void {
    this.follower.stop();
  }

  // Serving

  /** The published API at a path, whichever method it takes. */
  route(path: string): ServedApi | undefined {
    return this.routes.get(path);
  }

  /** The catalog revision the route table reflects: changes whenever what is published may have. */
  get catalogRevision(): number {
    return this.follower.revision;
  }

  /**
   * Calls `listener` after every reload of the route table (publish, offline, rollback here or on another
   * instance); GraphQL rebuilds its published-API fields from it. Returns the unsubscriber.
   */
  onRoutesChange(listener: () => void): () => void {
    this.routeListeners.add(listener);
    return () => this.routeListeners.delete(listener);
  }

  served(): ServedApi[] {
    return [...this.routes.values()].sort((a, b) => (a.definition.path < b.definition.path ? -1 : 1));
  }

  async call(api: ServedApi, raw: RawRequest, ctx: Omit<ExecutionContext, 'apiId' | 'version' | 'source'>): Promise<ExecutionResult> {
    const key = `${api.id}@${api.version}`;
    let prepared = this.prepared.get(key);
    if (prepared === undefined) {
      const name = api.definition.dataSource;
      prepared = (async () => {
        try {
          return { api: await prepareApi(api.definition, await this.dataSources.connector(name)), source: await this.dataSources.identity(name) };
        } catch (err) {
          // Saved before a rule of sql-guard existed: it reads what no API may read, and never will run.
          if (err instanceof ScriptRefused) {
            this.logger.error({ api: api.definition.name, version: api.version, reason: err.message }, 'a published API reads what APIs may not: refused');
            throw new RollgateError('FORBIDDEN', `${api.definition.name} reads what APIs may not read: ${err.message}`, { cause: err });
          }
          // The caller did nothing wrong: the published definition no longer fits its data source.
          if (err instanceof RollgateError && err.code === 'INVALID_PARAMETER') {
            this.logger.error({ api: api.definition.name, version: api.version, reason: err.message }, 'a published API no longer fits its data source');
            throw new RollgateError('DATASOURCE_ERROR', `${api.definition.name} cannot run against its data source now`, { cause: err });
          }
          throw err;
        }
      })();
      this.prepared.set(key, prepared);
      // A data source that was down must be retried on the next call, not remembered.
      prepared.catch(() => this.prepared.delete(key));
    }
    const { api: ready, source } = await prepared;
    return executeApi(ready, raw, { ...ctx, apiId: api.id, version: api.version, source });
  }

  // Admin

  async list(filter: { group?: string; status?: string; name?: string } = {}): Promise<ApiView[]> {
    const stored = await Promise.all((await this.catalog.listApis()).map((r) => this.view(r)));
    return [...this.builtins.map(builtinView), ...stored].filter(
      (v) =>
        (filter.group === undefined || v.group === filter.group) &&
        (filter.status === undefined || v.status === filter.status) &&
        (filter.name === undefined || v.name.toLowerCase().includes(filter.name.toLowerCase())),
    );
  }

  async get(id: string): Promise<ApiView> {
    const builtin = this.builtins.find((b) => b.id === id);
    if (builtin !== undefined) return builtinView(builtin);
    return this.view(await this.record(id));
  }

  async create(input: unknown, operator: string | undefined): Promise<ApiView> {
    const definition = await this.check(input);
    this.refuseBuiltinPath(definition);
    const now = Date.now();
    const record: ApiRecord = {
      id: randomUUID(),
      state: { status: 'draft' },
      draft: definition,
      latestVersion: 0,
      servingPath: undefined,
      createdAt: now,
      updatedAt: now,
      updatedBy: operator,
    };
    await this.catalog.saveApi(record, 'create');
    return this.view(record);
  }

  /** Replaces the draft. A published API keeps serving its version until the draft is published. */
  async update(id: string, input: unknown, operator: string | undefined): Promise<ApiView> {
    this.refuseBuiltin(id);
    const current = await this.record(id);
    const definition = await this.check(input);
    this.refuseBuiltinPath(definition);
    const record: ApiRecord = { ...current, draft: definition, updatedAt: Date.now(), updatedBy: operator };
    await this.catalog.saveApi(record, 'update');
    return this.view(record);
  }

  async remove(id: string): Promise<void> {
    this.refuseBuiltin(id);
    const current = await this.record(id);
    if (current.state.status === 'published') {
      throw new RollgateError('CONFLICT', `API ${current.draft.name} is published; take it offline before deleting it`);
    }
    await this.catalog.deleteApi(id);
    await this.refresh(true);
  }

  /** Runs the draft (or a built-in) with the given parameters: rows, the SQL as run, and the timing. */
  async test(id: string, raw: RawRequest, ctx: Omit<ExecutionContext, 'apiId' | 'version' | 'cache' | 'source'>): Promise<ExecutionResult> {
    const builtin = this.builtins.find((b) => b.id === id);
    const definition = builtin?.definition ?? (await this.record(id)).draft;
    const prepared = await prepareApi(definition, await this.dataSources.connector(definition.dataSource));
    return executeApi(prepared, raw, { ...ctx, apiId: id, version: 'draft', cache: undefined, source: definition.dataSource });
  }

  /** Serves the draft: as a new version when it changed since the latest one, else the latest one again. */
  async publish(id: string, operator: string | undefined): Promise<ApiView> {
    this.refuseBuiltin(id);
    const current = await this.record(id);
    // What gets served must still hold against the data source as it is now.
    await prepareApi(current.draft, await this.dataSources.connector(current.draft.dataSource));
    const latest = current.latestVersion === 0 ? undefined : await this.catalog.getVersion(id, current.latestVersion);
    const now = Date.now();
    const unchanged = latest !== undefined && isDeepStrictEqual(latest.definition, current.draft);
    const version = unchanged ? current.latestVersion : current.latestVersion + 1;
    const newVersion: ApiVersion | undefined = unchanged
      ? undefined
      : { apiId: id, version, definition: current.draft, createdAt: now, createdBy: operator };
    const record: ApiRecord = {
      ...current,
      state: { status: 'published', version },
      latestVersion: version,
      servingPath: current.draft.path,
      updatedAt: now,
      updatedBy: operator,
    };
    await this.catalog.saveApi(record, 'update', newVersion);
    await this.refresh(true);
    return this.view(record);
  }

  async offline(id: string, operator: string | undefined): Promise<ApiView> {
    this.refuseBuiltin(id);
    const current = await this.record(id);
    if (current.state.status !== 'published') throw new RollgateError('CONFLICT', `API ${current.draft.name} is not published`);
    const record: ApiRecord = {
      ...current,
      state: { status: 'offline', lastVersion: current.state.version },
      servingPath: undefined,
      updatedAt: Date.now(),
      updatedBy: operator,
    };
    await this.catalog.saveApi(record, 'update');
    await this.refresh(true);
    return this.view(record);
  }

  /** Serves an earlier version again; the draft becomes that version, so edits continue from it. */
  async rollback(id: string, version: unknown, operator: string | undefined): Promise<ApiView> {
    this.refuseBuiltin(id);
    const current = await this.record(id);
    if (typeof version !== 'number' || !Number.isInteger(version)) {
      throw new RollgateError('INVALID_PARAMETER', 'version must be an integer', { field: 'version' });
    }
    const target = await this.catalog.getVersion(id, version);
    if (target === undefined) throw new RollgateError('NOT_FOUND', `API ${current.draft.name} has no version ${version}`, { field: 'version' });
    await prepareApi(target.definition, await this.dataSources.connector(target.definition.dataSource));
    const record: ApiRecord = {
      ...current,
      state: { status: 'published', version },
      draft: target.definition,
      servingPath: target.definition.path,
      updatedAt: Date.now(),
      updatedBy: operator,
    };
    await this.catalog.saveApi(record, 'update');
    await this.refresh(true);
    return this.view(record);
  }

  async versions(id: string): Promise<Array<{ version: number; createdAt: string; createdBy: string | null; serving: boolean }>> {
    if (this.builtins.some((b) => b.id === id)) return [{ version: 1, createdAt: new Date(0).toISOString(), createdBy: null, serving: true }];
    const current = await this.record(id);
    const serving = current.state.status === 'published' ? current.state.version : undefined;
    return (await this.catalog.listVersions(id)).map((v) => ({
      version: v.version,
      createdAt: new Date(v.createdAt).toISOString(),
      createdBy: v.createdBy ?? null,
      serving: v.version === serving,
    }));
  }

  async version(id: string, version: number): Promise<ApiVersion> {
    const builtin = this.builtins.find((b) => b.id === id);
    if (builtin !== undefined && version === 1) return { apiId: id, version: 1, definition: builtin.definition, createdAt: 0, createdBy: undefined };
    const found = await this.catalog.getVersion(id, version);
    if (found === undefined) throw new RollgateError('NOT_FOUND', `API ${id} has no version ${version}`);
    return found;
  }

  /** Rebuilds the route table when the catalog moved (or at once, after a local write). */
  refresh(force: boolean): Promise<void> {
    return this.follower.refresh(force);
  }

  private async loadRoutes(moved: boolean): Promise<void> {
    const routes = new Map<string, ServedApi>();
    for (const b of this.builtins) routes.set(b.definition.path, { id: b.id, version: 1, definition: b.definition, builtin: true });
    for (const { record, version } of await this.catalog.listServing()) {
      routes.set(version.definition.path, { id: record.id, version: version.version, definition: version.definition, builtin: false });
    }
    this.routes = routes;
    // Anything in the catalog may have changed, data sources included: prepare served versions afresh.
    if (moved) this.prepared.clear();
    for (const listener of this.routeListeners) {
      try {
        listener();
      } catch (err) {
        this.logger.error({ err }, 'a route table listener failed');
      }
    }
  }

  private async check(input: unknown): Promise<ApiDefinition> {
    const definition = parseInput(ApiDefinitionSchema, input);
    const connector = await this.dataSources.connector(definition.dataSource).catch((err: unknown) => {
      if (err instanceof RollgateError && err.code === 'NOT_FOUND') throw invalidParameter('dataSource', `dataSource: ${err.message}`);
      throw err;
    });
    await prepareApi(definition, connector);
    return definition;
  }

  private async record(id: string): Promise<ApiRecord> {
    const record = await this.catalog.getApi(id);
    if (record === undefined) throw new RollgateError('NOT_FOUND', `no API with id ${id}`);
    return record;
  }

  private refuseBuiltin(id: string): void {
    if (this.builtins.some((b) => b.id === id)) {
      throw new RollgateError('CONFLICT', 'built-in APIs are defined by their rollup and cannot be changed');
    }
  }

  private refuseBuiltinPath(def: ApiDefinition): void {
    const clash = this.builtins.find((b) => b.definition.path === def.path || b.definition.name === def.name);
    if (clash !== undefined) throw new RollgateError('CONFLICT', `the built-in API ${clash.definition.name} already uses that name or path`, { field: 'path' });
  }

  private async view(record: ApiRecord): Promise<ApiView> {
    const latest = record.latestVersion === 0 ? undefined : await this.catalog.getVersion(record.id, record.latestVersion);
    const s = record.state;
    return {
      id: record.id,
      name: record.draft.name,
      group: record.draft.group,
      path: record.draft.path,
      method: record.draft.method,
      status: s.status,
      version: s.status === 'published' ? s.version : s.status === 'offline' ? s.lastVersion : null,
      latestVersion: record.latestVersion,
      draftChanged: latest === undefined || !isDeepStrictEqual(latest.definition, record.draft),
      builtin: false,
      definition: record.draft,
      createdAt: new Date(record.createdAt).toISOString(),
      updatedAt: new Date(record.updatedAt).toISOString(),
      updatedBy: record.updatedBy ?? null,
    };
  }
}

function builtinView(b: BuiltinApi): ApiView {
  const d = b.definition;
  return {
    id: b.id,
    name: d.name,
    group: d.group,
    path: d.path,
    method: d.method,
    status: 'published',
    version: 1,
    latestVersion: 1,
    draftChanged: false,
    builtin: true,
    definition: d,
    createdAt: null,
    updatedAt: null,
    updatedBy: null,
  };
}
