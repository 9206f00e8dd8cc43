import { describe, expect, it } from 'vitest';
import { loadConfig, redactUrl } from '../../src/config.js';
import { RollgateError } from '../../src/errors.js';

describe('loadConfig', () => {
  it('runs fully embedded when no service is configured', () => {
    const c = loadConfig({});
    expect(c.kafka).toBeUndefined();
    expect(c.clickhouse).toBeUndefined();
    expect(c.redis).toBeUndefined();
    expect(c.mysql).toBeUndefined();
    expect(c.http.port).toBe(4000);
  });

  it('reads the real services and a comma-separated broker list', () => {
    const c = loadConfig({
      KAFKA_BROKERS: '127.0.0.1:9092, 127.0.0.2:9092',
      CLICKHOUSE_URL: 'http://127.0.0.1:8123',
      REDIS_URL: 'redis://127.0.0.1:6379',
      MYSQL_URL: 'mysql://root@127.0.0.1:3306/rollgate',
      ROLLGATE_MASTER_KEY: 'a-real-master-key-0123456789',
      PORT: '4100',
    });
    expect(c.kafka?.brokers).toEqual(['127.0.0.1:9092', '127.0.0.2:9092']);
    expect(c.clickhouse).toMatchObject({ url: 'http://127.0.0.1:8123', database: 'rollgate' });
    expect(c.http.port).toBe(4100);
  });

  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['CLICKHOUSE_URL', { CLICKHOUSE_URL: 'tcp://x:9000' }],
    ['CLICKHOUSE_DATABASE', { CLICKHOUSE_DATABASE: 'a;drop' }],
    ['REDIS_URL', { REDIS_URL: 'localhost:6379' }],
    ['TOPIC_PREFIX', { TOPIC_PREFIX: 'a b' }],
    ['TRUSTED_PROXIES', { TRUSTED_PROXIES: '10.0.0.1, proxy.example' }],
    ['ROLLGATE_JWT_KEYS', { ROLLGATE_JWT_KEYS: '{"kid":"k1"}' }],
    ['ROLLGATE_JWT_KEYS', { ROLLGATE_JWT_KEYS: '[{"kid":"k1","publicKey":"…"}]' }],
    ['ROLLGATE_BOOTSTRAP_APP_SECRET', { ROLLGATE_BOOTSTRAP_APP_KEY: 'bootstrap-key' }],
    ['ROLLGATE_BOOTSTRAP_APP_CODE', { ROLLGATE_BOOTSTRAP_APP_CODE: 'short' }],
    ['ROLLGATE_MASTER_KEY', { NODE_ENV: 'production', ROLLGATE_ADMIN_TOKEN: 'Zq3v9-mK2pL8xR4tY7wB1nC6' }],
    ['ROLLGATE_MASTER_KEY', { ROLLGATE_MASTER_KEY: 'short' }],
    ['ROLLGATE_ADMIN_TOKEN', { NODE_ENV: 'production', ROLLGATE_MASTER_KEY: 'a-real-master-key-0123456789' }],
    ['ROLLGATE_ADMIN_TOKEN', { NODE_ENV: 'production', ROLLGATE_MASTER_KEY: 'a-real-master-key-0123456789', ROLLGATE_ADMIN_TOKEN: 'rollgate-demo-admin-token' }],
    ['ROLLGATE_ADMIN_TOKEN', { NODE_ENV: 'production', ROLLGATE_MASTER_KEY: 'a-real-master-key-0123456789', ROLLGATE_ADMIN_TOKEN: 'test-admin-token-0123456789' }],
  ])('rejects a bad %s with INVALID_CONFIG naming it', (name, env) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RollgateError);
    expect((error as RollgateError).code).toBe('INVALID_CONFIG');
    expect((error as RollgateError).message).toContain(name);
  });

  // Whatever NODE_ENV says: a key made up by one process cannot be shared with the others on the same services.
  it.each(['KAFKA_BROKERS', 'CLICKHOUSE_URL', 'MYSQL_URL', 'REDIS_URL'])('refuses %s without ROLLGATE_MASTER_KEY, saying how to make one', (name) => {
    const urls: Record<string, string> = {
      KAFKA_BROKERS: '127.0.0.1:9092',
      CLICKHOUSE_URL: 'http://127.0.0.1:8123',
      MYSQL_URL: 'mysql://root@127.0.0.1:3306/rollgate',
      REDIS_URL: 'redis://127.0.0.1:6379',
    };
    for (const nodeEnv of [undefined, 'development', 'test']) {
      const env = { [name]: urls[name], ...(nodeEnv === undefined ? {} : { NODE_ENV: nodeEnv }) };
      expect(() => loadConfig(env)).toThrow(/ROLLGATE_MASTER_KEY must be set .*openssl rand/);
      expect(() => loadConfig({ ...env, ROLLGATE_MASTER_KEY: '' })).toThrow(RollgateError);
      expect(loadConfig({ ...env, ROLLGATE_MASTER_KEY: 'a-real-master-key-0123456789' }).secrets.masterKey).toBe('a-real-master-key-0123456789');
    }
  });

  it('leaves an embedded install without a key to make its own in ROLLGATE_DATA_DIR', () => {
    expect(loadConfig({}).secrets).toEqual({ masterKey: undefined, dataDir: '.rollgate' });
    expect(loadConfig({ ROLLGATE_DATA_DIR: '/var/lib/rollgate' }).secrets.dataDir).toBe('/var/lib/rollgate');
  });

  it('starts in production with a real admin token and master key, and reads the auth settings', () => {
    const c = loadConfig({
      NODE_ENV: 'production',
      ROLLGATE_MASTER_KEY: 'a-real-master-key-0123456789',
      ROLLGATE_ADMIN_TOKEN: 'Zq3v9-mK2pL8xR4tY7wB1nC6',
      TRUSTED_PROXIES: '10.0.0.1, 2001:db8::/32',
      ROLLGATE_BOOTSTRAP_APP_KEY: 'bootstrap-key',
      ROLLGATE_BOOTSTRAP_APP_SECRET: 'bootstrap-secret-0123456789',
      ROLLGATE_BOOTSTRAP_APP_CODE: 'bootstrap-code-0123456789',
    });
    expect(c.auth.trustedProxies).toEqual(['10.0.0.1', '2001:db8::/32']);
    expect(c.auth.bootstrapApp?.appKey).toBe('bootstrap-key');
    expect(c.auth.jwt).toEqual({ algorithm: 'HS256', keys: undefined, ttlSeconds: 900 });
  });

  it('reads the GraphQL limits, with introspection on by default and off in production unless set', () => {
    expect(loadConfig({}).graphql).toEqual({ maxDepth: 10, maxAliases: 30, maxCost: 50_000, maxTokens: 10_000, maxFields: 200, introspection: true });
    const production = { NODE_ENV: 'production', ROLLGATE_MASTER_KEY: 'a-real-master-key-0123456789', ROLLGATE_ADMIN_TOKEN: 'Zq3v9-mK2pL8xR4tY7wB1nC6' };
    expect(loadConfig(production).graphql.introspection).toBe(false);
    expect(loadConfig({ ...production, GRAPHQL_INTROSPECTION: 'true' }).graphql.introspection).toBe(true);
    expect(loadConfig({ GRAPHQL_INTROSPECTION: 'false', GRAPHQL_MAX_DEPTH: '4', GRAPHQL_MAX_COST: '900' }).graphql).toMatchObject({ introspection: false, maxDepth: 4, maxCost: 900 });
    for (const bad of [{ GRAPHQL_MAX_DEPTH: '1' }, { GRAPHQL_MAX_ALIASES: 'many' }, { GRAPHQL_INTROSPECTION: 'yes' }, { GRAPHQL_MAX_TOKENS: '5' }]) {
      expect(() => loadConfig(bad)).toThrow(RollgateError);
    }
  });

  it('never echoes a password in a redacted URL', () => {
    expect(redactUrl('mysql://root:s3cret@db:3306/rollgate')).toBe('mysql://root:***@db:3306/rollgate');
  });
});
