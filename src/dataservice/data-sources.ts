import { createHash } from 'node:crypto';
import { z } from 'zod';
import { RollgateError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SecretBox } from '../security/secret-box.js';
import type { CatalogStore, DataSourceRecord } from './catalog/catalog-store.js';
import type { DataSourceConfig, DataSourceConnector } from './datasources/connector.js';
import { createConnector } from './datasources/index.js';
import { HostAllowlist } from './host-allowlist.js';
import { parseInput } from './validation-errors.js';

const name = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'must be 1-64 letters, digits or _, starting with a letter');
const description = z.string().max(500).default('');
const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain identifier');

/** What an admin sends. A password left out on update keeps the stored one, since it is never shown back. */
export const DataSourceInputSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    name,
    description,
    kind: z.literal('clickhouse'),
    url: z.url({ protocol: /^https?$/ }),
    database: identifier.default('default'),
    user: z.string().max(200).default('default'),
    password: z.string().max(500).optional(),
  }),
  z.strictObject({
    name,
    description,
    kind: z.literal('mysql'),
    host: z.string().min(1).max(255),
    port: z.number().int().min(1).max(65535).default(3306),
    database: identifier,
    user: z.string().min(1).max(200),
    password: z.string().max(500).optional(),
  }),
  z.strictObject({ name, description, kind: z.literal('duckdb'), path: z.string().min(1).max(1000) }),
]);
export type DataSourceInput = z.input<typeof DataSourceInputSchema>;

/** A data source as the admin API shows it: everything but the password. */
export interface DataSourceView {
  name: string;
  kind: DataSourceConfig['kind'];
  description: string;
  builtin: boolean;
  config: Record<string, string | number | boolean>;
  createdAt: string | null;
  updatedAt: string | null;
}

/** A data source defined by the deployment itself (the rollup stores), not editable over the API. */
export interface BuiltinDataSource {
  name: string;
  description: string;
  config: DataSourceConfig;
  connector: () => Promise<DataSourceConnector>;
  close: () => Promise<void>;
}

/**
 * Named connections: the built-in rollup stores plus those admins add.
 * Configs are sealed at rest with the master key, bound to their name; one
 * connector per source is kept open and replaced when the source changes.
 */
export class DataSources {
  private readonly open = new Map<string, { updatedAt: number; connector: Promise<DataSourceConnector> }>();
  private readonly listeners: Array<() => Promise<void>> = [];

  constructor(
    private readonly catalog: CatalogStore,
    private readonly secrets: SecretBox,
    private readonly builtins: readonly BuiltinDataSource[],
    private readonly logger: Logger,
    private readonly hosts: HostAllowlist = new HostAllowlist(undefined),
  ) {}

  /** Called after a data source changed or went away, so prepared APIs on it are rebuilt. */
  onChange(listener: () => Promise<void>): void {
    this.listeners.push(listener);
  }

  /**
   * What a cached result read from: the source's name and version, or for a
   * built-in its configuration, so deployments that share one Redis but read
   * different databases never share entries.
   */
  async identity(name: string): Promise<string> {
    const builtin = this.builtins.find((b) => b.name === name);
    if (builtin !== undefined) {
      return `${name}#${createHash('sha256').update(JSON.stringify(publicConfig(builtin.config))).digest('base64url').slice(0, 16)}`;
    }
    return `${name}@${(await this.record(name)).updatedAt}`;
  }

  async list(): Promise<DataSourceView[]> {
    const stored = await this.catalog.listDataSources();
    return [...this.builtins.map((b) => builtinView(b)), ...stored.map((r) => this.view(r))];
  }

  async get(name: string): Promise<DataSourceView> {
    const builtin = this.builtins.find((b) => b.name === name);
    if (builtin !== undefined) return builtinView(builtin);
    return this.view(await this.record(name));
  }

  async create(input: unknown): Promise<DataSourceView> {
    const parsed = parseInput(DataSourceInputSchema, input);
    this.refuseBuiltin(parsed.name);
    const now = Date.now();
    const config = toConfig(parsed, undefined);
    this.hosts.check(config);
    const record = this.seal(parsed.name, parsed.description, config, now, now);
    await this.catalog.putDataSource(record, 'create');
    return this.view(record);
  }

  async update(name: string, input: unknown): Promise<DataSourceView> {
    this.refuseBuiltin(name);
    const current = await this.record(name);
    const body = typeof input === 'object' && input !== null ? { ...(input as Record<string, unknown>), name } : input;
    const parsed = parseInput(DataSourceInputSchema, body);
    const previous = this.unseal(current);
    const config = toConfig(parsed, previous);
    this.hosts.check(config);
    const record = this.seal(name, parsed.description, config, current.createdAt, Date.now());
    await this.catalog.putDataSource(record, 'update');
    await this.forget(name);
    await this.changed();
    return this.view(record);
  }

  async remove(name: string): Promise<void> {
    this.refuseBuiltin(name);
    await this.record(name);
    await this.catalog.deleteDataSource(name);
    await this.forget(name);
    await this.changed();
  }

  private async changed(): Promise<void> {
    for (const listener of this.listeners) {
      await listener().catch((err: unknown) => this.logger.warn({ err }, 'applying a data source change failed'));
    }
  }

  /** Connectivity test of a stored source, or of a config before it is saved. */
  async test(nameOrInput: string | unknown): Promise<{ ok: true; latencyMs: number }> {
    const started = performance.now();
    if (typeof nameOrInput === 'string') {
      await (await this.connector(nameOrInput)).test();
    } else {
      const parsed = parseInput(DataSourceInputSchema, nameOrInput);
      const config = toConfig(parsed, undefined);
      this.hosts.check(config);
      const connector = await createConnector(parsed.name, config);
      try {
        await connector.test();
      } finally {
        await connector.close();
      }
    }
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  }

  async connector(name: string): Promise<DataSourceConnector> {
    const builtin = this.builtins.find((b) => b.name === name);
    if (builtin !== undefined) return builtin.connector();
    const record = await this.record(name);
    const held = this.open.get(name);
    if (held !== undefined && held.updatedAt === record.updatedAt) return held.connector;
    if (held !== undefined) void this.forget(name);
    const config = this.unseal(record);
    // Also for a source saved before the operator restricted the hosts.
    this.hosts.check(config);
    const connector = createConnector(name, config);
    this.open.set(name, { updatedAt: record.updatedAt, connector });
    connector.catch(() => this.open.delete(name));
    return connector;
  }

  async close(): Promise<void> {
    await Promise.all([...this.open.keys()].map((n) => this.forget(n)));
    await Promise.all(this.builtins.map((b) => b.close()));
  }

  private async forget(name: string): Promise<void> {
    const held = this.open.get(name);
    this.open.delete(name);
    if (held === undefined) return;
    try {
      await (await held.connector).close();
    } catch (err) {
      this.logger.warn({ err: { message: String(err) }, dataSource: name }, 'closing a data source failed');
    }
  }

  private async record(name: string): Promise<DataSourceRecord> {
    const record = await this.catalog.getDataSource(name);
    if (record === undefined) throw new RollgateError('NOT_FOUND', `no data source named ${name}`, { field: 'dataSource' });
    return record;
  }

  private refuseBuiltin(name: string): void {
    if (this.builtins.some((b) => b.name === name)) {
      throw new RollgateError('CONFLICT', `${name} is a built-in data source, configured by the deployment`, { field: 'name' });
    }
  }

  private seal(name: string, description: string, config: DataSourceConfig, createdAt: number, updatedAt: number): DataSourceRecord {
    return { name, kind: config.kind, description, sealedConfig: this.secrets.seal(JSON.stringify(config), `datasource:${name}`), createdAt, updatedAt };
  }

  private unseal(record: DataSourceRecord): DataSourceConfig {
    return JSON.parse(this.secrets.open(record.sealedConfig, `datasource:${record.name}`)) as DataSourceConfig;
  }

  private view(record: DataSourceRecord): DataSourceView {
    return {
      name: record.name,
      kind: record.kind,
      description: record.description,
      builtin: false,
      config: publicConfig(this.unseal(record)),
      createdAt: new Date(record.createdAt).toISOString(),
      updatedAt: new Date(record.updatedAt).toISOString(),
    };
  }
}

function toConfig(input: z.output<typeof DataSourceInputSchema>, previous: DataSourceConfig | undefined): DataSourceConfig {
  const keep = (p: string | undefined) => p ?? (previous !== undefined && 'password' in previous ? previous.password : '');
  switch (input.kind) {
    case 'clickhouse':
      return { kind: 'clickhouse', url: input.url, database: input.database, user: input.user, password: keep(input.password) };
    case 'mysql':
      return { kind: 'mysql', host: input.host, port: input.port, database: input.database, user: input.user, password: keep(input.password) };
    case 'duckdb':
      return { kind: 'duckdb', path: input.path };
  }
}

function publicConfig(config: DataSourceConfig): Record<string, string | number | boolean> {
  switch (config.kind) {
    case 'clickhouse':
      return { url: stripCredentials(config.url), database: config.database, user: config.user, passwordSet: config.password !== '' };
    case 'mysql':
      return { host: config.host, port: config.port, database: config.database, user: config.user, passwordSet: config.password !== '' };
    case 'duckdb':
      return { path: config.path };
  }
}

function stripCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}

function builtinView(b: BuiltinDataSource): DataSourceView {
  return { name: b.name, kind: b.config.kind, description: b.description, builtin: true, config: publicConfig(b.config), createdAt: null, updatedAt: null };
}
