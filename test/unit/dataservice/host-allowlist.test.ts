import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';
import { adminHeaders, testGateway } from '../../helpers/gateway.js';

/** DATASOURCE_ALLOWED_HOSTS: an operator restricts where admins may point data sources. */
let store: DuckDbStore;
let app: Awaited<ReturnType<typeof testGateway>>;

beforeAll(async () => {
  store = await DuckDbStore.open(':memory:');
  app = await testGateway(store, [], { DATASOURCE_ALLOWED_HOSTS: '127.0.0.1, *.db.internal, 10.20.0.0/16' });
});
afterAll(async () => {
  await app.close();
  await store.close();
});

const create = (payload: Record<string, unknown>) => app.inject({ method: 'POST', url: '/admin/datasources', headers: adminHeaders, payload });
const clickhouse = (name: string, url: string) => ({ name, kind: 'clickhouse', url, database: 'shop' });
const mysql = (name: string, host: string) => ({ name, kind: 'mysql', host, port: 3306, database: 'shop', user: 'ro', password: 'x' });

describe('DATASOURCE_ALLOWED_HOSTS', () => {
  it.each([
    ['a host name outside the list', clickhouse('ch_evil', 'http://metadata.cloud.internal/')],
    ['an address outside the ranges', mysql('my_evil', '169.254.169.254')],
    ['a look-alike of a wildcard', mysql('my_lookalike', 'db.internal.evil.example')],
  ])('refuses %s with 403 FORBIDDEN naming the host', async (_what, payload) => {
    const res = await create(payload);
    expect(res.statusCode, res.body).toBe(403);
    expect(res.json()).toMatchObject({ errCode: 1403 });
    const tested = await app.inject({ method: 'POST', url: '/admin/datasources/test', headers: adminHeaders, payload });
    expect(tested.statusCode).toBe(403);
  });

  it.each([
    ['a listed address', clickhouse('ch_ok', 'http://127.0.0.1:8123/')],
    ['a name under a wildcard', mysql('my_ok', 'orders.db.internal')],
    ['an address in a range', mysql('my_range', '10.20.3.4')],
    ['a DuckDB file (no host)', { name: 'duck_ok', kind: 'duckdb', path: ':memory:' }],
  ])('accepts %s', async (_what, payload) => {
    const res = await create(payload);
    expect(res.statusCode, res.body).toBe(201);
  });

  it('refuses entries that are no host, address or range', () => {
    expect(() => loadConfig({ DATASOURCE_ALLOWED_HOSTS: 'http://x/' })).toThrow(/DATASOURCE_ALLOWED_HOSTS/);
    expect(loadConfig({}).dataSources.allowedHosts).toBeUndefined();
  });
});
