import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../../aggregators/cpu-mem-5min.js';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';
import { appHeaders, testGateway, type GraphQLResponse } from '../../helpers/gateway.js';

/** What production changes on /graphql, and the admin JWT, on the embedded store. */
const INTROSPECTION = '{ __schema { queryType { name } } }';
const PRODUCTION_ADMIN_TOKEN = 'a-production-grade-admin-bearer-0123';
let store: DuckDbStore;
let other: DuckDbStore;
let production: FastifyInstance;
let development: FastifyInstance;

const codes = (body: GraphQLResponse<unknown>) => (body.errors ?? []).map((e) => e.extensions?.['code']);

beforeAll(async () => {
  store = await DuckDbStore.open(':memory:');
  other = await DuckDbStore.open(':memory:');
  for (const s of [store, other]) await s.ensureTable(cpuMem5min);
  production = await testGateway(store, [], {
    NODE_ENV: 'production',
    ROLLGATE_MASTER_KEY: 'a-production-grade-master-key-0123',
    ROLLGATE_ADMIN_TOKEN: PRODUCTION_ADMIN_TOKEN,
  });
  development = await testGateway(other, [], { GRAPHQL_INTROSPECTION: 'false' });
});

afterAll(async () => {
  await production.close();
  await development.close();
  await store.close();
  await other.close();
});

describe('/graphql in production', () => {
  it('refuses introspection, and errors carry a code but no stack trace', async () => {
    const res = await production.inject({ method: 'POST', url: '/graphql', headers: appHeaders, payload: { query: INTROSPECTION } });
    const body = res.json<GraphQLResponse<unknown>>();
    expect(codes(body)).toEqual(['INVALID_PARAMETER']);
    const bad = await production.inject({ method: 'POST', url: '/graphql', headers: appHeaders, payload: { query: '{ cpuMemRollups(pageSize: 0) { totalNum } }' } });
    expect(bad.body).not.toContain('stacktrace');
    expect(codes(bad.json<GraphQLResponse<unknown>>())).toEqual(['INVALID_PARAMETER']);
  });

  it('serves the admin fields to an admin JWT, not only to the admin token', async () => {
    const issued = await production.inject({ method: 'POST', url: '/admin/token', headers: { authorization: `Bearer ${PRODUCTION_ADMIN_TOKEN}` } });
    const token = issued.json<{ data: { token: string } }>().data.token;
    const res = await production.inject({ method: 'POST', url: '/graphql', headers: { authorization: `Bearer ${token}` }, payload: { query: '{ admin { isAdmin dataSources { name } } }' } });
    expect(res.json<GraphQLResponse<{ admin: { isAdmin: boolean } }>>().data?.admin.isAdmin).toBe(true);
  });
});

describe('GRAPHQL_INTROSPECTION', () => {
  it('turns introspection off outside production too, and a plain GET with ?query= is served', async () => {
    const off = await development.inject({ method: 'GET', url: `/graphql?query=${encodeURIComponent(INTROSPECTION)}`, headers: appHeaders });
    expect(codes(off.json<GraphQLResponse<unknown>>())).toEqual(['INVALID_PARAMETER']);
    const get = await development.inject({ method: 'GET', url: `/graphql?query=${encodeURIComponent('{ cpuMemRollups { totalNum } }')}`, headers: appHeaders });
    expect(get.statusCode).toBe(200);
    expect(get.json<GraphQLResponse<{ cpuMemRollups: { totalNum: number } }>>().data?.cpuMemRollups.totalNum).toBe(0);
  });
});

describe('client mistakes on /graphql are client errors with a stable code, never INTERNAL', () => {
  const MODERN = { ...appHeaders, 'content-type': 'application/json', accept: 'application/graphql-response+json' };
  const post = (app: FastifyInstance, payload: string) => app.inject({ method: 'POST', url: '/graphql', headers: MODERN, payload });

  it.each([
    ['a mutation on a read-only API', JSON.stringify({ query: 'mutation { x }' })],
    ['variables nested 5,000 levels', `{"query":"{ __typename }","variables":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`],
    ['a persisted-query hash that does not match the query', JSON.stringify({ query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } })],
    ['persisted-query version 2', JSON.stringify({ extensions: { persistedQuery: { version: 2, sha256Hash: 'a'.repeat(64) } } })],
  ])('%s: 400 INVALID_PARAMETER', async (_what, payload) => {
    for (const app of [production, development]) {
      const res = await post(app, payload);
      expect(res.statusCode, res.body).toBe(400);
      expect(codes(res.json<GraphQLResponse<unknown>>())).toEqual(['INVALID_PARAMETER']);
    }
  });

  it('variables nested 5,000 levels in a GET are refused the same way', async () => {
    const variables = encodeURIComponent(`${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`);
    const res = await development.inject({ method: 'GET', url: `/graphql?query=${encodeURIComponent('{ __typename }')}&variables=${variables}`, headers: MODERN });
    expect(res.statusCode).toBe(400);
    expect(codes(res.json<GraphQLResponse<unknown>>())).toEqual(['INVALID_PARAMETER']);
  });

  it('names no field of the schema in "Did you mean" when introspection is off', async () => {
    const typo = JSON.stringify({ query: '{ cpuMemRollupz { totalNum } }' });
    for (const app of [production, development]) {
      const res = await post(app, typo);
      expect(res.statusCode).toBe(400);
      expect(res.body).not.toContain('cpuMemRollups');
      expect(res.body).not.toMatch(/did you mean/i);
    }
  });
});
