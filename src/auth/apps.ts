import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { CatalogFollower } from '../dataservice/catalog/catalog-follower.js';
import type { AppRecord, CatalogStore } from '../dataservice/catalog/catalog-store.js';
import { parseInput } from '../dataservice/validation-errors.js';
import { RollgateError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SecretBox } from '../security/secret-box.js';
import type { AppCodeHasher } from './appcode.js';
import { GRANT_PATTERN } from './grants.js';
import { IpAllowlist, normalizeEntry } from './ip-allowlist.js';

const DEFAULT_RATE_LIMIT = { rps: 50, burst: 100 };
const APP_KEY = /^[A-Za-z0-9_-]{8,64}$/;

const fields = {
  name: z.string().min(1).max(100),
  description: z.string().max(500),
  ipAllowlist: z.array(z.string().max(64)).max(200),
  grants: z.array(z.string().regex(GRANT_PATTERN, 'must be api:<name>, group:<group> or flows')).max(1000),
  rateLimit: z.strictObject({ rps: z.number().int().min(1).max(100_000), burst: z.number().int().min(0).max(1_000_000) }),
  allowAppCodeQuery: z.boolean(),
  status: z.enum(['enabled', 'disabled']),
};

const CreateAppSchema = z.strictObject({
  appKey: z.string().regex(APP_KEY, 'must be 8-64 letters, digits, _ or -').optional(),
  name: fields.name,
  description: fields.description.default(''),
  ipAllowlist: fields.ipAllowlist.default([]),
  grants: fields.grants.default([]),
  rateLimit: fields.rateLimit.default(DEFAULT_RATE_LIMIT),
  allowAppCodeQuery: fields.allowAppCodeQuery.default(false),
  status: fields.status.default('enabled'),
});

const UpdateAppSchema = z.strictObject({
  name: fields.name.optional(),
  description: fields.description.optional(),
  ipAllowlist: fields.ipAllowlist.optional(),
  grants: fields.grants.optional(),
  rateLimit: fields.rateLimit.optional(),
  allowAppCodeQuery: fields.allowAppCodeQuery.optional(),
  status: fields.status.optional(),
});

/** An app as the admin API shows it: never its secret, code or their stored forms. */
export interface AppView {
  appKey: string;
  name: string;
  description: string;
  status: AppRecord['status'];
  ipAllowlist: string[];
  grants: string[];
  rateLimit: AppRecord['rateLimit'];
  allowAppCodeQuery: boolean;
  createdAt: string;
  updatedAt: string;
}

/** Shown once, at creation and rotation. */
export interface AppCredentials {
  appKey: string;
  appSecret: string;
  appCode: string;
}

/** An app ready for the request path: its secret opened, its allowlist parsed. */
export interface LiveApp {
  record: AppRecord;
  secret: string;
  allowlist: IpAllowlist;
}

/**
 * Apps: admin operations over the catalog, and the in-memory table the
 * request path reads (by appKey, or by the keyed hash of an appCode). Writes
 * bump the catalog revision; other gateway instances pick them up within
 * two seconds, this one at once.
 */
export class AppService {
  private byKey = new Map<string, LiveApp>();
  private byCodeHash = new Map<string, LiveApp>();
  private readonly follower: CatalogFollower;

  constructor(
    private readonly catalog: CatalogStore,
    private readonly box: SecretBox,
    private readonly hasher: AppCodeHasher,
    private readonly logger: Logger,
  ) {
    this.follower = new CatalogFollower(catalog, () => this.loadApps(), logger, 'apps');
  }

  start(): Promise<void> {
    return this.follower.start();
  }

  stop(): void {
    this.follower.stop();
  }

  // Request path

  findByKey(appKey: string): LiveApp | undefined {
    return this.byKey.get(appKey);
  }

  findByCode(appCode: string): LiveApp | undefined {
    const hash = this.hasher.hash(appCode);
    const app = this.byCodeHash.get(hash);
    return app !== undefined && this.hasher.sameHash(hash, app.record.appCodeHash) ? app : undefined;
  }

  // Admin

  async list(): Promise<AppView[]> {
    return (await this.catalog.listApps()).map(view);
  }

  async get(appKey: string): Promise<AppView> {
    return view(await this.record(appKey));
  }

  async create(input: unknown): Promise<AppView & AppCredentials> {
    const parsed = parseInput(CreateAppSchema, input);
    const credentials = { appKey: parsed.appKey ?? randomBytes(12).toString('hex'), appSecret: newSecret(), appCode: newSecret() };
    const now = Date.now();
    const record: AppRecord = {
      ...this.sealed(credentials),
      name: parsed.name,
      description: parsed.description,
      allowAppCodeQuery: parsed.allowAppCodeQuery,
      ipAllowlist: parsed.ipAllowlist.map(normalizeEntry),
      grants: [...new Set(parsed.grants)],
      rateLimit: parsed.rateLimit,
      status: parsed.status,
      createdAt: now,
      updatedAt: now,
    };
    await this.catalog.putApp(record, 'create');
    await this.refresh(true);
    return { ...view(record), ...credentials };
  }

  async update(appKey: string, input: unknown): Promise<AppView> {
    const current = await this.record(appKey);
    const p = parseInput(UpdateAppSchema, input);
    const record: AppRecord = {
      ...current,
      name: p.name ?? current.name,
      description: p.description ?? current.description,
      ipAllowlist: p.ipAllowlist?.map(normalizeEntry) ?? current.ipAllowlist,
      grants: p.grants === undefined ? current.grants : [...new Set(p.grants)],
      rateLimit: p.rateLimit ?? current.rateLimit,
      allowAppCodeQuery: p.allowAppCodeQuery ?? current.allowAppCodeQuery,
      status: p.status ?? current.status,
      updatedAt: Date.now(),
    };
    await this.catalog.putApp(record, 'update');
    await this.refresh(true);
    return view(record);
  }

  async setStatus(appKey: string, status: AppRecord['status']): Promise<AppView> {
    return this.update(appKey, { status });
  }

  /** A new appSecret and appCode; the old ones stop working at once (on other instances within two seconds). */
  async rotate(appKey: string): Promise<AppView & AppCredentials> {
    const current = await this.record(appKey);
    const credentials = { appKey, appSecret: newSecret(), appCode: newSecret() };
    const record: AppRecord = { ...current, ...this.sealed(credentials), updatedAt: Date.now() };
    await this.catalog.putApp(record, 'update');
    await this.refresh(true);
    return { ...view(record), ...credentials };
  }

  /** Creates or updates the bootstrap app with the given credentials and grants, enabled, any IP. */
  async bootstrap(credentials: AppCredentials, grants: readonly string[]): Promise<void> {
    try {
      await this.putBootstrap(credentials, grants);
    } catch (err) {
      // Gateways starting together on a fresh catalog race to insert it: the one that lost updates what the other made.
      if ((await this.catalog.getApp(credentials.appKey)) === undefined) throw err;
      await this.putBootstrap(credentials, grants);
    }
    await this.refresh(true);
  }

  private async putBootstrap(credentials: AppCredentials, grants: readonly string[]): Promise<void> {
    const current = await this.catalog.getApp(credentials.appKey);
    const now = Date.now();
    const record: AppRecord = {
      name: current?.name ?? 'bootstrap',
      description: current?.description ?? 'created at start-up from ROLLGATE_BOOTSTRAP_APP_*',
      ...this.sealed(credentials),
      allowAppCodeQuery: current?.allowAppCodeQuery ?? false,
      ipAllowlist: current?.ipAllowlist ?? [],
      grants: [...new Set([...(current?.grants ?? []), ...grants])],
      rateLimit: current?.rateLimit ?? { rps: 1000, burst: 2000 },
      status: 'enabled',
      createdAt: current?.createdAt ?? now,
      updatedAt: now,
    };
    await this.catalog.putApp(record, 'upsert');
  }

  refresh(force: boolean): Promise<void> {
    return this.follower.refresh(force);
  }

  private async loadApps(): Promise<void> {
    const byKey = new Map<string, LiveApp>();
    const byCodeHash = new Map<string, LiveApp>();
    for (const record of await this.catalog.listApps()) {
      try {
        const live = { record, secret: this.box.open(record.sealedSecret, aad(record.appKey)), allowlist: new IpAllowlist(record.ipAllowlist) };
        byKey.set(record.appKey, live);
        byCodeHash.set(record.appCodeHash, live);
      } catch (err) {
        // Left out, so it cannot call: its secret was sealed with another master key, or tampered with.
        this.logger.error({ appKey: record.appKey, err: { message: err instanceof Error ? err.message : String(err) } }, 'app secret cannot be opened');
      }
    }
    this.byKey = byKey;
    this.byCodeHash = byCodeHash;
  }

  private sealed(c: AppCredentials): Pick<AppRecord, 'appKey' | 'sealedSecret' | 'appCodeHash'> {
    return { appKey: c.appKey, sealedSecret: this.box.seal(c.appSecret, aad(c.appKey)), appCodeHash: this.hasher.hash(c.appCode) };
  }

  private async record(appKey: string): Promise<AppRecord> {
    const record = await this.catalog.getApp(appKey);
    if (record === undefined) throw new RollgateError('NOT_FOUND', `no app ${appKey}`);
    return record;
  }
}

/** Binds a sealed secret to its app: copied onto another app's row, it does not open. */
function aad(appKey: string): string {
  return `app:${appKey}`;
}

function newSecret(): string {
  return randomBytes(24).toString('base64url');
}

function view(r: AppRecord): AppView {
  return {
    appKey: r.appKey,
    name: r.name,
    description: r.description,
    status: r.status,
    ipAllowlist: r.ipAllowlist,
    grants: r.grants,
    rateLimit: r.rateLimit,
    allowAppCodeQuery: r.allowAppCodeQuery,
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
  };
}
