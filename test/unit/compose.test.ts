import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { parse } from 'yaml';
import { aggregatorNames } from '../../aggregators/index.js';
import { loadConfig } from '../../src/config.js';

/**
 * docker-compose.yml cannot be run here (no Docker engine), so this guards the
 * parts that break silently: service wiring, env names, and one aggregator
 * service per rollup.
 */
const root = new URL('../../', import.meta.url);
const composeText = readFileSync(new URL('docker-compose.yml', root), 'utf8');
const configSource = readFileSync(new URL('src/config.ts', root), 'utf8');
/** Whole-word matches only: a substring test would let KAFKA_BROKER pass for KAFKA_BROKERS. */
const configKnows = (name: string) => new RegExp(`(?<![A-Za-z0-9_])${name}(?![A-Za-z0-9_])`).test(configSource);

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, unknown> | string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  ports?: Array<string | number | { target?: number | string; published?: number | string }>;
  healthcheck?: { test?: unknown; disable?: boolean };
}

// Merge keys (`<<: *rollgate`) are YAML 1.1; compose resolves them, so must we.
const compose = parse(composeText, { merge: true }) as { services?: Record<string, Service> };
const services: Record<string, Service> = compose.services ?? {};
const rollgateServices = Object.keys(services).filter((name) => name === 'gateway' || name.startsWith('aggregator-'));
const backingServices = ['kafka', 'clickhouse', 'mysql', 'redis'] as const;

/** A service's environment as a map, in either of compose's two spellings. */
function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const eq = entry.indexOf('=');
        return eq === -1 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** What the README tells a user to set in the shell before `docker compose up`. */
const SHELL: Record<string, string> = { ROLLGATE_MASTER_KEY: 'a-compose-test-master-key-0123456789' };

/**
 * What compose would substitute with only SHELL set: `${X:-d}` and `${X-d}` give d, `${X}` gives '',
 * `${X:?message}` gives SHELL's X (compose refuses to start without it).
 */
function interpolateDefaults(value: string): string {
  return value
    .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*)|:\?([^}]*))?\}/g, (_match, name: string, dash: string | undefined, fallback: string | undefined, required: string | undefined) => {
      if (required !== undefined) {
        const set = SHELL[name];
        if (set === undefined) throw new Error(`compose refuses to start without ${name}: ${required}`);
        return set;
      }
      return SHELL[name] ?? (dash === undefined ? '' : (fallback ?? ''));
    })
    .replace(/\$\$/g, '$');
}

function resolvedEnvironmentOf(service: Service): Record<string, string> {
  return Object.fromEntries(Object.entries(environmentOf(service)).map(([k, v]) => [k, interpolateDefaults(v)]));
}

function commandOf(service: Service): string[] {
  const command = service.command ?? [];
  return typeof command === 'string' ? command.split(/\s+/).filter((part) => part.length > 0) : command;
}

/** Host ports a service publishes, from short ("4000:4000", "127.0.0.1:4000:4000/tcp") or long syntax. */
function publishedPorts(service: Service): Array<{ published: string; target: string }> {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'object') return { published: String(port.published ?? ''), target: String(port.target ?? '') };
    const parts = String(port).replace(/\/(tcp|udp)$/, '').split(':');
    const target = parts.at(-1) ?? '';
    return { published: parts.length > 1 ? (parts.at(-2) ?? '') : '', target };
  });
}

describe('docker-compose.yml', () => {
  it('parses and defines the backing services and the rollgate services', () => {
    expect(compose).toBeTypeOf('object');
    for (const name of [...backingServices, 'gateway', 'aggregator-cpu-mem-5min']) {
      expect(services, `service ${name}`).toHaveProperty(name);
    }
  });

  it('runs every rollgate service from the locally built image', () => {
    for (const name of rollgateServices) {
      expect(services[name]?.build, `${name}.build`).toBeDefined();
    }
    const images = new Set(rollgateServices.map((name) => services[name]?.image));
    expect(images.size, 'gateway and aggregators share one image tag').toBe(1);
  });

  it('points every rollgate service at the compose hostnames', () => {
    expect(rollgateServices.length).toBeGreaterThanOrEqual(2);
    for (const name of rollgateServices) {
      const env = resolvedEnvironmentOf(services[name] ?? {});
      const brokers = (env.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim());
      expect(brokers, `${name} KAFKA_BROKERS`).toEqual(['kafka:9092']);
      expect(new URL(env.CLICKHOUSE_URL ?? 'missing:').hostname, `${name} CLICKHOUSE_URL`).toBe('clickhouse');
      expect(new URL(env.MYSQL_URL ?? 'missing:').hostname, `${name} MYSQL_URL`).toBe('mysql');
      expect(new URL(env.REDIS_URL ?? 'missing:').hostname, `${name} REDIS_URL`).toBe('redis');
    }
  });

  it('gives rollgate the same credentials the backing services are started with', () => {
    const clickhouse = resolvedEnvironmentOf(services.clickhouse ?? {});
    const mysql = resolvedEnvironmentOf(services.mysql ?? {});
    for (const name of rollgateServices) {
      const env = resolvedEnvironmentOf(services[name] ?? {});
      expect(env.CLICKHOUSE_PASSWORD, `${name} CLICKHOUSE_PASSWORD`).toBe(clickhouse.CLICKHOUSE_PASSWORD);
      expect(env.CLICKHOUSE_PASSWORD, 'recent ClickHouse images refuse an empty password over the network').not.toBe('');
      expect(env.CLICKHOUSE_DATABASE ?? 'rollgate', `${name} CLICKHOUSE_DATABASE`).toBe(clickhouse.CLICKHOUSE_DB);
      const mysqlUrl = new URL(env.MYSQL_URL ?? 'missing:');
      expect(decodeURIComponent(mysqlUrl.password), `${name} MYSQL_URL password`).toBe(mysql.MYSQL_ROOT_PASSWORD);
      expect(mysqlUrl.pathname, `${name} MYSQL_URL database`).toBe(`/${mysql.MYSQL_DATABASE}`);
    }
  });

  it('refuses to start rollgate without a master key instead of letting it run on none', () => {
    for (const name of rollgateServices) {
      expect(environmentOf(services[name] ?? {}).ROLLGATE_MASTER_KEY, name).toMatch(/^\$\{ROLLGATE_MASTER_KEY:\?.+\}$/);
    }
  });

  it('passes only environment variables that src/config.ts reads, with values it accepts', () => {
    for (const name of rollgateServices) {
      const env = resolvedEnvironmentOf(services[name] ?? {});
      for (const key of Object.keys(env)) {
        expect(configKnows(key), `${name}: ${key} is not read by src/config.ts`).toBe(true);
      }
      const config = loadConfig(env);
      expect(config.kafka, `${name} kafka`).toBeDefined();
      expect(config.clickhouse, `${name} clickhouse`).toBeDefined();
      expect(config.mysql, `${name} mysql`).toBeDefined();
      expect(config.redis, `${name} redis`).toBeDefined();
    }
  });

  it('runs an aggregator service for every rollup (windowed ones and region-orders), and only for known rollups', () => {
    const known = aggregatorNames;
    expect(known).toContain('region-orders');
    const aggregators = rollgateServices.filter((name) => name.startsWith('aggregator-'));
    for (const name of aggregators) {
      const command = commandOf(services[name] ?? {});
      expect(command[0], `${name} command`).toBe('aggregate');
      expect(known, `${name} names an unknown rollup`).toContain(command[1]);
      expect(name, `${name} is named after its rollup`).toBe(`aggregator-${command[1]}`);
    }
    for (const rollup of known) {
      expect(services, `rollup ${rollup} has no aggregator service`).toHaveProperty(`aggregator-${rollup}`);
    }
  });

  it('checks aggregators on their ops port (METRICS_PORT, 9464), and publishes no port for them', () => {
    for (const name of rollgateServices.filter((n) => n.startsWith('aggregator-'))) {
      expect(JSON.stringify(services[name]?.healthcheck?.test), `${name}.healthcheck`).toContain('127.0.0.1:9464/healthz');
      expect(services[name]?.ports ?? [], `${name} ports`).toEqual([]);
    }
  });

  it('starts rollgate services only after every backing service is healthy', () => {
    for (const name of backingServices) {
      expect(services[name]?.healthcheck?.test, `${name}.healthcheck`).toBeDefined();
    }
    for (const name of rollgateServices) {
      const dependsOn = services[name]?.depends_on;
      expect(Array.isArray(dependsOn), `${name}.depends_on must use the long form with conditions`).toBe(false);
      for (const dependency of backingServices) {
        const entry = (dependsOn as Record<string, { condition?: string }> | undefined)?.[dependency];
        expect(entry?.condition, `${name} depends_on ${dependency}`).toBe('service_healthy');
      }
    }
  });

  it('runs the gateway with `serve` and publishes port 4000', () => {
    const gateway = services.gateway ?? {};
    expect(commandOf(gateway)).toEqual(['serve']);
    expect(publishedPorts(gateway)).toContainEqual({ published: '4000', target: '4000' });
    expect(resolvedEnvironmentOf(gateway).HOST ?? '0.0.0.0', 'the gateway must listen beyond loopback').toBe('0.0.0.0');
  });
});
