import { z } from 'zod';
import ipaddr from 'ipaddr.js';
import { RollgateError } from './errors.js';

/**
 * The only reader of the environment. Everything else receives a `Config`.
 * An unset service URL means "use the embedded stand-in" (see DESIGN.md).
 */
const csv = z
  .string()
  .transform((s) => s.split(',').map((part) => part.trim()).filter((part) => part.length > 0));

const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((s) => (s === undefined || s === '' ? undefined : s))
    .refine((s) => s === undefined || isUrlWithProtocol(s, protocols), {
      message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
    });

function isUrlWithProtocol(value: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

const optionalText = z
  .string()
  .optional()
  .transform((s) => (s === undefined || s === '' ? undefined : s));

const JwtKeysSchema = z
  .array(
    z.strictObject({
      kid: z.string().regex(/^[\w.-]{1,64}$/),
      secret: z.string().min(32).optional(),
      publicKey: z.string().optional(),
      privateKey: z.string().optional(),
    }),
  )
  .min(1);

export type JwtKeyConfig = z.infer<typeof JwtKeysSchema>[number];

function isAddressOrCidr(value: string): boolean {
  try {
    if (value.includes('/')) ipaddr.parseCIDR(value);
    else ipaddr.parse(value);
    return true;
  } catch {
    return false;
  }
}

export interface DuckDbLimits {
  memoryLimit: string;
  threads: number;
}

/**
 * DuckDB takes 80 % of the machine's RAM and every core by default: inside a gateway one hostile script would
 * take the process with it. These bound it, for the embedded store and for DuckDB data sources alike.
 */
export const DUCKDB_DEFAULTS: DuckDbLimits = { memoryLimit: '1GB', threads: 2 };

/** Admin tokens from docs, examples and tests: production refuses them. */
const DEMO_ADMIN_TOKEN = /demo|example|changeme|test-admin-token/i;

const intInRange = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().default('127.0.0.1'),
  PORT: intInRange(0, 65535, 4000),
  HTTP_REQUEST_TIMEOUT_MS: intInRange(1000, 600_000, 30_000),
  HTTP_MAX_CONNECTIONS: intInRange(1, 1_000_000, 10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  KAFKA_BROKERS: z
    .string()
    .optional()
    .transform((s) => (s === undefined || s.trim() === '' ? undefined : csv.parse(s))),
  KAFKA_CLIENT_ID: z.string().default('rollgate'),
  TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]*$/, 'may hold only letters, digits, ".", "_" and "-"')
    .default(''),
  CLICKHOUSE_URL: optionalUrl(['http:', 'https:']),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain identifier')
    .default('rollgate'),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
  MYSQL_URL: optionalUrl(['mysql:']),
  REDIS_URL: optionalUrl(['redis:', 'rediss:']),
  DUCKDB_PATH: z.string().default(':memory:'),
  DUCKDB_MEMORY_LIMIT: z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'must be a size such as 512MB or 2GB')
    .default(DUCKDB_DEFAULTS.memoryLimit),
  DUCKDB_THREADS: intInRange(1, 256, DUCKDB_DEFAULTS.threads),
  CACHE_TTL_MS: intInRange(0, 3_600_000, 1000),
  CACHE_ROLLUP_TTL_MS: intInRange(0, 86_400_000, 60_000),
  CACHE_L1_TTL_MS: intInRange(0, 60_000, 250),
  API_DEFAULT_PAGE_SIZE: intInRange(1, 100_000, 50),
  API_MAX_PAGE_SIZE: intInRange(1, 100_000, 2000),
  API_MAX_ROWS: intInRange(1, 1_000_000, 2000),
  API_TIMEOUT_MS: intInRange(100, 600_000, 10_000),
  API_MAX_RESULT_BYTES: intInRange(65_536, 1_073_741_824, 16 * 1024 * 1024),
  GRAPHQL_WS_MAX_SUBSCRIPTIONS: intInRange(1, 1000, 20),
  GRAPHQL_WS_MAX_CONNECTIONS: intInRange(1, 1_000_000, 2000),
  GRAPHQL_WS_MAX_CONNECTIONS_PER_APP: intInRange(1, 1_000_000, 200),
  GRAPHQL_MAX_DEPTH: intInRange(2, 100, 10),
  GRAPHQL_MAX_ALIASES: intInRange(1, 1000, 30),
  GRAPHQL_MAX_COST: intInRange(10, 100_000_000, 50_000),
  GRAPHQL_MAX_TOKENS: intInRange(100, 1_000_000, 10_000),
  GRAPHQL_MAX_FIELDS: intInRange(10, 100_000, 200),
  GRAPHQL_INTROSPECTION: z.enum(['true', 'false']).optional(),
  ROLLGATE_ADMIN_TOKEN: z
    .string()
    .optional()
    .transform((s) => (s === undefined || s === '' ? undefined : s))
    .refine((s) => s === undefined || s.length >= 16, { message: 'must be at least 16 characters' }),
  ROLLGATE_MASTER_KEY: z
    .string()
    .optional()
    .transform((s) => (s === undefined || s === '' ? undefined : s))
    .refine((s) => s === undefined || s.length >= 16, { message: 'must be at least 16 characters' }),
  ROLLGATE_DATA_DIR: z.string().trim().min(1).default('.rollgate'),
  DASHBOARD_APP_KEY: z
    .string()
    .optional()
    .transform((s) => (s === undefined || s === '' ? undefined : s)),
  AGGREGATOR_FLUSH_MS: intInRange(100, 600_000, 2000),
  AGGREGATOR_IDLE_MS: intInRange(1000, 86_400_000, 30_000),
  METRICS_PORT: intInRange(0, 65535, 9464),
  TRUSTED_PROXIES: z
    .string()
    .default('')
    .transform((s) => csv.parse(s))
    .refine((list) => list.every(isAddressOrCidr), { message: 'must be comma-separated IP addresses or CIDRs' }),
  AUTH_FAILURES_PER_MINUTE: intInRange(1, 1_000_000, 60),
  ROLLGATE_JWT_ALG: z.enum(['HS256', 'RS256']).default('HS256'),
  ROLLGATE_JWT_KEYS: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s.trim() === '') return undefined;
      try {
        return JwtKeysSchema.parse(JSON.parse(s));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON array of {"kid", "secret"} (HS256) or {"kid", "publicKey", "privateKey"?} (RS256), PEM keys' });
        return z.NEVER;
      }
    }),
  ROLLGATE_JWT_TTL_SECONDS: intInRange(30, 86_400, 900),
  ROLLGATE_BOOTSTRAP_APP_KEY: optionalText.refine((s) => s === undefined || /^[A-Za-z0-9_-]{8,64}$/.test(s), {
    message: 'must be 8-64 letters, digits, _ or -',
  }),
  ROLLGATE_BOOTSTRAP_APP_SECRET: optionalText.refine((s) => s === undefined || s.length >= 16, { message: 'must be at least 16 characters' }),
  ROLLGATE_BOOTSTRAP_APP_CODE: optionalText.refine((s) => s === undefined || s.length >= 16, { message: 'must be at least 16 characters' }),
  DATASOURCE_ALLOWED_HOSTS: z
    .string()
    .optional()
    .transform((s) => (s === undefined || s.trim() === '' ? undefined : csv.parse(s)))
    .refine((list) => list === undefined || list.every((h) => isAddressOrCidr(h) || /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(h)), {
      message: 'must be comma-separated host names (*.domain for a wildcard), IP addresses or CIDRs',
    }),
  MONITOR_ORIGINS: z
    .string()
    .optional()
    .transform((s, ctx) => parseMonitorOrigins(s, ctx)),
  MONITOR_RATE_PER_IP: intInRange(1, 100_000_000, 600),
  MONITOR_RATE_PER_APP: intInRange(1, 100_000_000, 60_000),
  MONITOR_ACK_TIMEOUT_MS: intInRange(100, 600_000, 10_000),
});

/**
 * `MONITOR_ORIGINS`: JSON `{"<appId>": ["https://shop.example", ...] | "*"}`.
 * Unset: any appId from any origin (development).
 */
function parseMonitorOrigins(text: string | undefined, ctx: z.RefinementCtx): Record<string, string[] | '*'> | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const problem = 'must be JSON {"<appId>": ["<origin>", ...] or "*"}';
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(problem);
    const out: Record<string, string[] | '*'> = {};
    for (const [appId, origins] of Object.entries(parsed)) {
      if (origins === '*') out[appId] = '*';
      else if (Array.isArray(origins) && origins.every((o) => typeof o === 'string' && /^https?:\/\/[^/]+$/.test(o))) out[appId] = origins as string[];
      else throw new Error(`${appId}: origins must be "*" or a list of scheme://host[:port]`);
    }
    return out;
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof SyntaxError ? problem : (err as Error).message });
    return z.NEVER;
  }
}

export interface Config {
  env: 'development' | 'production' | 'test';
  /**
   * requestTimeoutMs: how long a client may take to send a whole request (headers and body); then 408 and the
   * socket closes. maxConnections: sockets the HTTP server holds at once (WebSockets included); more are dropped.
   */
  http: { host: string; port: number; requestTimeoutMs: number; maxConnections: number };
  log: { level: string; pretty: boolean };
  kafka: { brokers: string[]; clientId: string } | undefined;
  /** Prepended to every topic and consumer-group name, so several deployments (or tests) can share one cluster. */
  topicPrefix: string;
  clickhouse: { url: string; database: string; user: string; password: string } | undefined;
  mysql: { url: string } | undefined;
  redis: { url: string } | undefined;
  /** The embedded DuckDB: its file, and what one query may take of the gateway's memory and cores. */
  duckdb: { path: string } & DuckDbLimits;
  /**
   * ttlMs: results of tables no aggregator writes; rollupTtlMs: results of rollup tables, which are
   * re-keyed whenever an aggregator writes, so they can live longer; l1TtlMs: the in-process layer.
   */
  cache: { ttlMs: number; rollupTtlMs: number; l1TtlMs: number };
  /** maxRows caps an API without pagination; timeoutMs is the default per-API query timeout; maxResultBytes caps any answer. */
  api: { defaultPageSize: number; maxPageSize: number; maxRows: number; timeoutMs: number; maxResultBytes: number };
  /**
   * GraphQL subscriptions over WebSocket (graphql-ws): operations one connection may hold open at once, and
   * connections this process holds in all and per app.
   */
  graphqlWs: { maxSubscriptions: number; maxConnections: number; maxConnectionsPerApp: number };
  /**
   * /graphql limits: selection depth, aliases and cost (every field 1, a paging field its rows times its selection)
   * per operation, lexical tokens and field selections per document; introspection is on unless production (or GRAPHQL_INTROSPECTION says otherwise).
   */
  graphql: { maxDepth: number; maxAliases: number; maxCost: number; maxTokens: number; maxFields: number; introspection: boolean };
  /** allowedHosts: the hosts admins may point data sources at (undefined: any). */
  dataSources: { allowedHosts: string[] | undefined };
  /** The bearer token of /admin; unset disables the admin API. */
  admin: { token: string | undefined };
  /**
   * masterKey signs tokens and seals data source passwords and app secrets at rest; unset (only allowed for an
   * embedded install) means a random key kept in dataDir.
   */
  secrets: { masterKey: string | undefined; dataDir: string };
  /** flushMs: partial rows and checkpoints; idleMs: a silent partition follows the others' watermark; port: the aggregate command's /metrics. */
  aggregator: { flushMs: number; idleMs: number; metricsPort: number };
  /**
   * trustedProxies: the only peers whose X-Forwarded-For is believed; jwt: token signing (keys unset means one
   * HS256 key derived from the master key); bootstrapApp: an app created or updated at start-up.
   */
  auth: {
    trustedProxies: string[];
    /** Wrong AppCodes (or DataFlow app secrets) one client address may present per minute before its attempts are refused outright. */
    failuresPerMinute: number;
    jwt: { algorithm: 'HS256' | 'RS256'; keys: JwtKeyConfig[] | undefined; ttlSeconds: number };
    bootstrapApp: { appKey: string; appSecret: string; appCode: string } | undefined;
  };
  /**
   * The /monitor/upload collector: allowed browser origins per appId (undefined: any appId, any origin),
   * events per minute per client IP and per appId, and how long to wait for Kafka's acknowledgement.
   */
  monitor: { origins: Record<string, string[] | '*'> | undefined; ratePerIpPerMinute: number; ratePerAppPerMinute: number; ackTimeoutMs: number };
  /**
   * The dashboard at /: appKey names an app whose tokens /dashboard/session hands to anyone who opens the page
   * (a wall screen, the demo); unset, the page asks for an AppCode.
   */
  dashboard: { appKey: string | undefined };
}

export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  options: { stdoutIsTty?: boolean } = {},
): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    throw new RollgateError('INVALID_CONFIG', `invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  if (e.API_DEFAULT_PAGE_SIZE > e.API_MAX_PAGE_SIZE) {
    throw new RollgateError(
      'INVALID_CONFIG',
      'invalid configuration: API_DEFAULT_PAGE_SIZE must not exceed API_MAX_PAGE_SIZE',
    );
  }
  const services = (
    [
      ['KAFKA_BROKERS', e.KAFKA_BROKERS],
      ['CLICKHOUSE_URL', e.CLICKHOUSE_URL],
      ['MYSQL_URL', e.MYSQL_URL],
      ['REDIS_URL', e.REDIS_URL],
    ] as const
  )
    .filter(([, value]) => value !== undefined)
    .map(([name]) => name);
  // Only a lone embedded install may make its own key: processes sharing real services must share one key, and
  // a key nobody chose is a key nobody backs up.
  if (e.ROLLGATE_MASTER_KEY === undefined && (e.NODE_ENV === 'production' || services.length > 0)) {
    throw new RollgateError(
      'INVALID_CONFIG',
      `invalid configuration: ROLLGATE_MASTER_KEY must be set ${services.length > 0 ? `when real services are configured (${services.join(', ')})` : 'in production'}: ` +
        'it signs tokens and seals stored secrets. Make one with `openssl rand -base64 32`, give the same value to every rollgate process, and keep it: ' +
        'a changed key makes stored secrets unreadable',
    );
  }
  if (e.NODE_ENV === 'production' && (e.ROLLGATE_ADMIN_TOKEN === undefined || DEMO_ADMIN_TOKEN.test(e.ROLLGATE_ADMIN_TOKEN))) {
    throw new RollgateError(
      'INVALID_CONFIG',
      'invalid configuration: ROLLGATE_ADMIN_TOKEN must be set in production, and not to a demo or example value',
    );
  }
  const bootstrap = [e.ROLLGATE_BOOTSTRAP_APP_KEY, e.ROLLGATE_BOOTSTRAP_APP_SECRET, e.ROLLGATE_BOOTSTRAP_APP_CODE];
  if (bootstrap.some((v) => v !== undefined) && bootstrap.some((v) => v === undefined)) {
    throw new RollgateError(
      'INVALID_CONFIG',
      'invalid configuration: ROLLGATE_BOOTSTRAP_APP_KEY, ROLLGATE_BOOTSTRAP_APP_SECRET and ROLLGATE_BOOTSTRAP_APP_CODE go together',
    );
  }
  if (e.ROLLGATE_JWT_KEYS !== undefined) {
    const usable = e.ROLLGATE_JWT_KEYS.every((k) => (e.ROLLGATE_JWT_ALG === 'HS256' ? k.secret !== undefined : k.publicKey !== undefined));
    const signer = e.ROLLGATE_JWT_ALG === 'HS256' ? e.ROLLGATE_JWT_KEYS[0]?.secret : e.ROLLGATE_JWT_KEYS[0]?.privateKey;
    if (!usable || signer === undefined) {
      throw new RollgateError(
        'INVALID_CONFIG',
        `invalid configuration: ROLLGATE_JWT_KEYS: every ${e.ROLLGATE_JWT_ALG} key needs ${e.ROLLGATE_JWT_ALG === 'HS256' ? 'a secret' : 'a publicKey'}, and the first (the signing key) ${e.ROLLGATE_JWT_ALG === 'HS256' ? 'a secret' : 'a privateKey'}`,
      );
    }
  }
  return {
    env: e.NODE_ENV,
    http: { host: e.HOST, port: e.PORT, requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS, maxConnections: e.HTTP_MAX_CONNECTIONS },
    log: { level: e.LOG_LEVEL, pretty: e.LOG_FORMAT === undefined ? options.stdoutIsTty === true : e.LOG_FORMAT === 'pretty' },
    kafka: e.KAFKA_BROKERS === undefined ? undefined : { brokers: e.KAFKA_BROKERS, clientId: e.KAFKA_CLIENT_ID },
    topicPrefix: e.TOPIC_PREFIX,
    clickhouse:
      e.CLICKHOUSE_URL === undefined
        ? undefined
        : { url: e.CLICKHOUSE_URL, database: e.CLICKHOUSE_DATABASE, user: e.CLICKHOUSE_USER, password: e.CLICKHOUSE_PASSWORD },
    mysql: e.MYSQL_URL === undefined ? undefined : { url: e.MYSQL_URL },
    redis: e.REDIS_URL === undefined ? undefined : { url: e.REDIS_URL },
    duckdb: { path: e.DUCKDB_PATH, memoryLimit: e.DUCKDB_MEMORY_LIMIT, threads: e.DUCKDB_THREADS },
    cache: { ttlMs: e.CACHE_TTL_MS, rollupTtlMs: e.CACHE_ROLLUP_TTL_MS, l1TtlMs: e.CACHE_L1_TTL_MS },
    api: {
      defaultPageSize: e.API_DEFAULT_PAGE_SIZE,
      maxPageSize: e.API_MAX_PAGE_SIZE,
      maxRows: e.API_MAX_ROWS,
      maxResultBytes: e.API_MAX_RESULT_BYTES,
      timeoutMs: e.API_TIMEOUT_MS,
    },
    graphqlWs: {
      maxSubscriptions: e.GRAPHQL_WS_MAX_SUBSCRIPTIONS,
      maxConnections: e.GRAPHQL_WS_MAX_CONNECTIONS,
      maxConnectionsPerApp: e.GRAPHQL_WS_MAX_CONNECTIONS_PER_APP,
    },
    graphql: {
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxCost: e.GRAPHQL_MAX_COST,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
      maxFields: e.GRAPHQL_MAX_FIELDS,
      introspection: e.GRAPHQL_INTROSPECTION === undefined ? e.NODE_ENV !== 'production' : e.GRAPHQL_INTROSPECTION === 'true',
    },
    dataSources: { allowedHosts: e.DATASOURCE_ALLOWED_HOSTS },
    admin: { token: e.ROLLGATE_ADMIN_TOKEN },
    secrets: { masterKey: e.ROLLGATE_MASTER_KEY, dataDir: e.ROLLGATE_DATA_DIR },
    aggregator: { flushMs: e.AGGREGATOR_FLUSH_MS, idleMs: e.AGGREGATOR_IDLE_MS, metricsPort: e.METRICS_PORT },
    auth: {
      trustedProxies: e.TRUSTED_PROXIES,
      failuresPerMinute: e.AUTH_FAILURES_PER_MINUTE,
      jwt: { algorithm: e.ROLLGATE_JWT_ALG, keys: e.ROLLGATE_JWT_KEYS, ttlSeconds: e.ROLLGATE_JWT_TTL_SECONDS },
      bootstrapApp:
        e.ROLLGATE_BOOTSTRAP_APP_KEY !== undefined && e.ROLLGATE_BOOTSTRAP_APP_SECRET !== undefined && e.ROLLGATE_BOOTSTRAP_APP_CODE !== undefined
          ? { appKey: e.ROLLGATE_BOOTSTRAP_APP_KEY, appSecret: e.ROLLGATE_BOOTSTRAP_APP_SECRET, appCode: e.ROLLGATE_BOOTSTRAP_APP_CODE }
          : undefined,
    },
    monitor: {
      origins: e.MONITOR_ORIGINS,
      ratePerIpPerMinute: e.MONITOR_RATE_PER_IP,
      ratePerAppPerMinute: e.MONITOR_RATE_PER_APP,
      ackTimeoutMs: e.MONITOR_ACK_TIMEOUT_MS,
    },
    dashboard: { appKey: e.DASHBOARD_APP_KEY },
  };
}

/** The process environment, read here so no other module touches it. */
export function loadConfigFromProcess(): Config {
  return loadConfig(process.env, { stdoutIsTty: process.stdout.isTTY === true });
}

/** A URL with any password replaced, for logs and banners. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}
