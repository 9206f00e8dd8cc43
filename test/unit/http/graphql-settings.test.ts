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
