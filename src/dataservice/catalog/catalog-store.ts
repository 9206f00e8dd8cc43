import { RollgateError } from '../../errors.js';
import { ApiDefinitionSchema, type ApiDefinition } from '../definition.js';
import type { CatalogRow, SqlClient } from './sql-client.js';

/**
 * Where an API stands. A published API serves one immutable version while its
 * draft may move on; offline keeps the versions but serves nothing.
 */
export type ApiState = { status: 'draft' } | { status: 'published'; version: number } | { status: 'offline'; lastVersion: number };

export interface ApiRecord {
  id: string;
  state: ApiState;
  /** The editable head. */
  draft: ApiDefinition;
  /** The highest version number published so far (0 when never). */
  latestVersion: number;
  /** The path the published version serves, kept beside the draft's so paths stay unique across both. */
  servingPath: string | undefined;
  createdAt: number;
  updatedAt: number;
  updatedBy: string | undefined;
}

export interface ApiVersion {
  apiId: string;
  version: number;
  definition: ApiDefinition;
  createdAt: number;
  createdBy: string | undefined;
}

export interface DataSourceRecord {
  name: string;
  kind: 'clickhouse' | 'mysql' | 'duckdb';
  description: string;
  /** The connection config, sealed by the SecretBox with the name as associated data. */
  sealedConfig: string;
  createdAt: number;
  updatedAt: number;
}

/** An app that calls published APIs (src/auth). Secrets are stored only sealed or hashed. */
export interface AppRecord {
  appKey: string;
  name: string;
  description: string;
  /** The appSecret sealed by the SecretBox with `app:<appKey>` as associated data. */
  sealedSecret: string;
  /** HMAC-SHA256 of the appCode under a key derived from the master key, hex: looked up, never reversed. */
  appCodeHash: string;
  allowAppCodeQuery: boolean;
  ipAllowlist: string[];
  grants: string[];
  rateLimit: { rps: number; burst: number };
  status: 'enabled' | 'disabled';
  createdAt: number;
  updatedAt: number;
}

const T = {
  meta: 'rollgate_catalog_meta',
  apps: 'rollgate_apps',
  sources: 'rollgate_datasources',
  apis: 'rollgate_apis',
  versions: 'rollgate_api_versions',
};

/**
 * Data sources, API definitions and their versions, in MySQL when configured
 * (shared by every gateway instance) or in the embedded DuckDB. Every write
 * bumps one revision number in the same transaction, so other instances see a
 * change by polling a single row.
 */
export class CatalogStore {
  constructor(private readonly db: SqlClient) {}

  async init(): Promise<void> {
    const text = this.db.textType;
    await this.db.run(`CREATE TABLE IF NOT EXISTS ${T.meta} (id INTEGER NOT NULL PRIMARY KEY, revision BIGINT NOT NULL)`);
    const meta = await this.db.all(`SELECT revision FROM ${T.meta} WHERE id = 1`);
    if (meta.length === 0) await this.db.run(`INSERT INTO ${T.meta} (id, revision) VALUES (1, 0)`).catch(() => undefined);
    await this.db.run(
      `CREATE TABLE IF NOT EXISTS ${T.sources} (name VARCHAR(64) NOT NULL PRIMARY KEY, kind VARCHAR(16) NOT NULL,
       description VARCHAR(500) NOT NULL, sealed_config ${text} NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)`,
    );
    await this.db.run(
      `CREATE TABLE IF NOT EXISTS ${T.apis} (id VARCHAR(36) NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL UNIQUE,
       path VARCHAR(200) NOT NULL UNIQUE, serving_path VARCHAR(200), status VARCHAR(16) NOT NULL, version INTEGER,
       latest_version INTEGER NOT NULL, draft ${text} NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
       updated_by VARCHAR(100))`,
    );
    await this.db.run(
      `CREATE TABLE IF NOT EXISTS ${T.versions} (api_id VARCHAR(36) NOT NULL, version INTEGER NOT NULL,
       definition ${text} NOT NULL, created_at BIGINT NOT NULL, created_by VARCHAR(100), PRIMARY KEY (api_id, version))`,
    );
    await this.db.run(
      `CREATE TABLE IF NOT EXISTS ${T.apps} (app_key VARCHAR(64) NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL,
       description VARCHAR(500) NOT NULL, sealed_secret ${text} NOT NULL, app_code_hash VARCHAR(64) NOT NULL UNIQUE,
       allow_app_code_query INTEGER NOT NULL, ip_allowlist ${text} NOT NULL, grants ${text} NOT NULL, rate_rps INTEGER NOT NULL,
       rate_burst INTEGER NOT NULL, status VARCHAR(16) NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)`,
    );
  }

  // Apps

  async listApps(): Promise<AppRecord[]> {
    return (await this.db.all(`SELECT * FROM ${T.apps} ORDER BY app_key`)).map(toApp);
  }

  async getApp(appKey: string): Promise<AppRecord | undefined> {
    const rows = await this.db.all(`SELECT * FROM ${T.apps} WHERE app_key = ?`, [appKey]);
    return rows[0] === undefined ? undefined : toApp(rows[0]);
  }

  /** Creates or replaces an app; `upsert` is for the bootstrap app, which may or may not exist yet. */
  async putApp(record: AppRecord, mode: 'create' | 'update' | 'upsert'): Promise<void> {
    await this.write(async (tx) => {
      const exists = (await tx.all(`SELECT app_key FROM ${T.apps} WHERE app_key = ?`, [record.appKey])).length > 0;
      if (mode === 'create' && exists) throw new RollgateError('CONFLICT', `app ${record.appKey} already exists`, { field: 'appKey' });
      if (mode === 'update' && !exists) throw new RollgateError('NOT_FOUND', `no app ${record.appKey}`);
      const codeClash = await tx.all(`SELECT app_key FROM ${T.apps} WHERE app_code_hash = ? AND app_key <> ?`, [record.appCodeHash, record.appKey]);
      if (codeClash.length > 0) throw new RollgateError('CONFLICT', 'that appCode is already used by another app', { field: 'appCode' });
      const values = [
        record.name,
        record.description,
        record.sealedSecret,
        record.appCodeHash,
        record.allowAppCodeQuery ? 1 : 0,
        JSON.stringify(record.ipAllowlist),
        JSON.stringify(record.grants),
        record.rateLimit.rps,
        record.rateLimit.burst,
        record.status,
        record.updatedAt,
      ];
      if (exists) {
        await tx.run(
          `UPDATE ${T.apps} SET name = ?, description = ?, sealed_secret = ?, app_code_hash = ?, allow_app_code_query = ?,
           ip_allowlist = ?, grants = ?, rate_rps = ?, rate_burst = ?, status = ?, updated_at = ? WHERE app_key = ?`,
          [...values, record.appKey],
        );
      } else {
        await tx.run(
          `INSERT INTO ${T.apps} (name, description, sealed_secret, app_code_hash, allow_app_code_query, ip_allowlist, grants,
           rate_rps, rate_burst, status, updated_at, app_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [...values, record.appKey, record.createdAt],
        );
      }
    });
  }

  async revision(): Promise<number> {
    const rows = await this.db.all(`SELECT revision FROM ${T.meta} WHERE id = 1`);
    return Number(rows[0]?.['revision'] ?? 0);
  }

  // Data sources

  async listDataSources(): Promise<DataSourceRecord[]> {
    return (await this.db.all(`SELECT * FROM ${T.sources} ORDER BY name`)).map(toSource);
  }

  async getDataSource(name: string): Promise<DataSourceRecord | undefined> {
    const rows = await this.db.all(`SELECT * FROM ${T.sources} WHERE name = ?`, [name]);
    return rows[0] === undefined ? undefined : toSource(rows[0]);
  }

  async putDataSource(record: DataSourceRecord, mode: 'create' | 'update'): Promise<void> {
    await this.write(async (tx) => {
      const exists = (await tx.all(`SELECT name FROM ${T.sources} WHERE name = ?`, [record.name])).length > 0;
      if (mode === 'create' && exists) throw new RollgateError('CONFLICT', `data source ${record.name} already exists`, { field: 'name' });
      if (mode === 'update' && !exists) throw new RollgateError('NOT_FOUND', `no data source ${record.name}`);
      const values = [record.kind, record.description, record.sealedConfig, record.updatedAt];
      if (exists) {
        await tx.run(`UPDATE ${T.sources} SET kind = ?, description = ?, sealed_config = ?, updated_at = ? WHERE name = ?`, [...values, record.name]);
      } else {
        await tx.run(
          `INSERT INTO ${T.sources} (kind, description, sealed_config, updated_at, name, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
          [...values, record.name, record.createdAt],
        );
      }
    });
  }

  async deleteDataSource(name: string): Promise<void> {
    await this.write(async (tx) => {
      const users = await tx.all(`SELECT name, draft FROM ${T.apis}`);
      const using = users.filter((r) => parseDefinition(r['draft']).dataSource === name).map((r) => String(r['name']));
      if (using.length > 0) throw new RollgateError('CONFLICT', `data source ${name} is used by ${using.join(', ')}`);
      await tx.run(`DELETE FROM ${T.sources} WHERE name = ?`, [name]);
    });
  }

  // APIs

  async listApis(): Promise<ApiRecord[]> {
    return (await this.db.all(`SELECT * FROM ${T.apis} ORDER BY name`)).map(toApi);
  }

  async getApi(id: string): Promise<ApiRecord | undefined> {
    const rows = await this.db.all(`SELECT * FROM ${T.apis} WHERE id = ?`, [id]);
    return rows[0] === undefined ? undefined : toApi(rows[0]);
  }

  async listVersions(apiId: string): Promise<ApiVersion[]> {
    return (await this.db.all(`SELECT * FROM ${T.versions} WHERE api_id = ? ORDER BY version DESC`, [apiId])).map(toVersion);
  }

  async getVersion(apiId: string, version: number): Promise<ApiVersion | undefined> {
    const rows = await this.db.all(`SELECT * FROM ${T.versions} WHERE api_id = ? AND version = ?`, [apiId, version]);
    return rows[0] === undefined ? undefined : toVersion(rows[0]);
  }

  /** Every published API with the definition of the version it serves. */
  async listServing(): Promise<Array<{ record: ApiRecord; version: ApiVersion }>> {
    const rows = await this.db.all(
      `SELECT a.*, v.definition AS served, v.created_at AS v_created_at, v.created_by AS v_created_by
       FROM ${T.apis} a JOIN ${T.versions} v ON v.api_id = a.id AND v.version = a.version WHERE a.status = 'published'`,
    );
    return rows.map((r) => {
      const record = toApi(r);
      const version = Number(r['version']);
      return {
        record,
        version: {
          apiId: record.id,
          version,
          definition: parseDefinition(r['served']),
          createdAt: Number(r['v_created_at']),
          createdBy: optional(r['v_created_by']),
        },
      };
    });
  }

  /**
   * Saves an API record (and, when given, a new immutable version) after
   * checking that its name and both of its paths are nobody else's.
   */
  async saveApi(record: ApiRecord, mode: 'create' | 'update', newVersion?: ApiVersion): Promise<void> {
    await this.write(async (tx) => {
      const others = (await tx.all(`SELECT id, name, path, serving_path FROM ${T.apis} WHERE id <> ?`, [record.id])).map((r) => ({
        name: String(r['name']),
        paths: [String(r['path']), optional(r['serving_path'])].filter((p): p is string => p !== undefined),
      }));
      const clashName = others.find((o) => o.name === record.draft.name);
      if (clashName !== undefined) throw new RollgateError('CONFLICT', `an API named ${record.draft.name} already exists`, { field: 'name' });
      for (const path of new Set([record.draft.path, record.servingPath].filter((p): p is string => p !== undefined))) {
        const clash = others.find((o) => o.paths.includes(path));
        if (clash !== undefined) throw new RollgateError('CONFLICT', `path ${path} is already used by API ${clash.name}`, { field: 'path' });
      }
      const exists = (await tx.all(`SELECT id FROM ${T.apis} WHERE id = ?`, [record.id])).length > 0;
      if (mode === 'update' && !exists) throw new RollgateError('NOT_FOUND', `no API ${record.id}`);
      if (mode === 'create' && exists) throw new RollgateError('CONFLICT', `API ${record.id} already exists`);
      const { status, version } = stateColumns(record.state);
      const values = [
        record.draft.name,
        record.draft.path,
        record.servingPath ?? null,
        status,
        version,
        record.latestVersion,
        JSON.stringify(record.draft),
        record.updatedAt,
        record.updatedBy ?? null,
      ];
      if (exists) {
        await tx.run(
          `UPDATE ${T.apis} SET name = ?, path = ?, serving_path = ?, status = ?, version = ?, latest_version = ?, draft = ?,
           updated_at = ?, updated_by = ? WHERE id = ?`,
          [...values, record.id],
        );
      } else {
        await tx.run(
          `INSERT INTO ${T.apis} (name, path, serving_path, status, version, latest_version, draft, updated_at, updated_by, id, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [...values, record.id, record.createdAt],
        );
      }
      if (newVersion !== undefined) {
        await tx.run(`INSERT INTO ${T.versions} (api_id, version, definition, created_at, created_by) VALUES (?, ?, ?, ?, ?)`, [
          newVersion.apiId,
          newVersion.version,
          JSON.stringify(newVersion.definition),
          newVersion.createdAt,
          newVersion.createdBy ?? null,
        ]);
      }
    });
  }

  async deleteApi(id: string): Promise<void> {
    await this.write(async (tx) => {
      await tx.run(`DELETE FROM ${T.versions} WHERE api_id = ?`, [id]);
      await tx.run(`DELETE FROM ${T.apis} WHERE id = ?`, [id]);
    });
  }

  private async write(work: (tx: SqlClient) => Promise<void>): Promise<void> {
    await this.db.transaction(async (tx) => {
      await work(tx);
      await tx.run(`UPDATE ${T.meta} SET revision = revision + 1 WHERE id = 1`);
    });
  }
}

function stateColumns(state: ApiState): { status: string; version: number | null } {
  switch (state.status) {
    case 'draft':
      return { status: 'draft', version: null };
    case 'published':
      return { status: 'published', version: state.version };
    case 'offline':
      return { status: 'offline', version: state.lastVersion };
  }
}

function toState(status: unknown, version: unknown): ApiState {
  if (status === 'published') return { status: 'published', version: Number(version) };
  if (status === 'offline') return { status: 'offline', lastVersion: Number(version) };
  return { status: 'draft' };
}

function optional(value: unknown): string | undefined {
  return value === null || value === undefined ? undefined : String(value);
}

/** Stored definitions were valid when written; parsing again keeps older rows working as defaults are added. */
function parseDefinition(text: unknown): ApiDefinition {
  return ApiDefinitionSchema.parse(JSON.parse(String(text)));
}

function toApi(r: CatalogRow): ApiRecord {
  return {
    id: String(r['id']),
    state: toState(r['status'], r['version']),
    draft: parseDefinition(r['draft']),
    latestVersion: Number(r['latest_version']),
    servingPath: optional(r['serving_path']),
    createdAt: Number(r['created_at']),
    updatedAt: Number(r['updated_at']),
    updatedBy: optional(r['updated_by']),
  };
}

function toVersion(r: CatalogRow): ApiVersion {
  return {
    apiId: String(r['api_id']),
    version: Number(r['version']),
    definition: parseDefinition(r['definition']),
    createdAt: Number(r['created_at']),
    createdBy: optional(r['created_by']),
  };
}

function toApp(r: CatalogRow): AppRecord {
  return {
    appKey: String(r['app_key']),
    name: String(r['name']),
    description: String(r['description']),
    sealedSecret: String(r['sealed_secret']),
    appCodeHash: String(r['app_code_hash']),
    allowAppCodeQuery: Number(r['allow_app_code_query']) === 1,
    ipAllowlist: stringList(r['ip_allowlist']),
    grants: stringList(r['grants']),
    rateLimit: { rps: Number(r['rate_rps']), burst: Number(r['rate_burst']) },
    status: r['status'] === 'disabled' ? 'disabled' : 'enabled',
    createdAt: Number(r['created_at']),
    updatedAt: Number(r['updated_at']),
  };
}

function stringList(text: unknown): string[] {
  const parsed: unknown = JSON.parse(String(text));
  return Array.isArray(parsed) ? parsed.map(String) : [];
}

function toSource(r: CatalogRow): DataSourceRecord {
  return {
    name: String(r['name']),
    kind: String(r['kind']) as DataSourceRecord['kind'],
    description: String(r['description']),
    sealedConfig: String(r['sealed_config']),
    createdAt: Number(r['created_at']),
    updatedAt: Number(r['updated_at']),
  };
}
