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

  it('never echoes a password in a redacted URL', () => {
    expect(redactUrl('mysql://root:s3cret@db:3306/rollgate')).toBe('mysql://root:***@db:3306/rollgate');
  });
});
