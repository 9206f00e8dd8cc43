import SwaggerParser from '@apidevtools/swagger-parser';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../../aggregators/cpu-mem-5min.js';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';
import { adminHeaders, appHeaders, testGateway } from '../../helpers/gateway.js';

let store: DuckDbStore;
let app: FastifyInstance;

const admin = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
  app.inject({ method, url, headers: adminHeaders, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });

const wizard = {
  mode: 'wizard',
  name: 'region_sales',
  group: 'shop',
  path: '/shop/sales',
  description: 'Sales by region',
  dataSource: 'builtin_clickhouse',
  table: 'sales',
  requestParams: [
    { name: 'region', column: 'region', type: 'STRING', operator: 'in' },
    { name: 'since', column: 'day', type: 'DATE', operator: '>=' },
  ],
  responseParams: [
    { column: 'day', type: 'DATE', dateFormat: 'yyyy/MM/dd' },
    { column: 'region', type: 'STRING' },
    { column: 'amount', type: 'DOUBLE' },
  ],
  sort: [{ column: 'day', order: 'DESC' }],
};

beforeAll(async () => {
  store = await DuckDbStore.open(':memory:');
  await store.ensureTable(cpuMem5min);
  const conn = await store.database.connect();
  await conn.run(`CREATE TABLE sales (day DATE, region VARCHAR, amount DOUBLE)`);
  await conn.run(`INSERT INTO sales VALUES ('2026-11-01', 'north', 10), ('2026-11-01', 'south', 20), ('2026-11-02', 'north', 30), ('2026-11-03', 'east', 40)`);
  conn.closeSync();
  app = await testGateway(store);
});

afterAll(async () => {
  await app.close();
  await store.close();
});

describe('admin authentication', () => {
  it('refuses admin calls without the bearer token, with 401 and errCode 1401', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-wrong-token' }, { authorization: 'Basic abc' }]) {
      const res = await app.inject({ url: '/admin/apis', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ errCode: 1401, data: null });
    }
  });
});

describe('API lifecycle', () => {
  let id: string;

  it('lists the rollups as built-in published APIs', async () => {
    const res = await admin('GET', '/admin/apis?group=rollups');
    expect(res.json().data.map((a: { path: string; status: string; builtin: boolean }) => [a.path, a.status, a.builtin])).toContainEqual([
      '/cpu-mem-5min',
      'published',
      true,
    ]);
  });

  it('creates a draft that is not served yet', async () => {
    const res = await admin('POST', '/admin/apis', wizard);
    expect(res.statusCode).toBe(201);
    const api = res.json().data;
    expect(api).toMatchObject({ name: 'region_sales', status: 'draft', version: null, latestVersion: 0, draftChanged: true });
    id = api.id;
    expect((await app.inject({ headers: appHeaders, url: '/api/shop/sales' })).statusCode).toBe(404);
  });

  it('tests the draft: rows, the SQL as run and the timing', async () => {
    const res = await admin('POST', `/admin/apis/${id}/test`, { region: 'north,south', since: '2026-11-01' });
    expect(res.statusCode).toBe(200);
    const { data, sql, timingMs } = res.json().data;
    expect(data).toMatchObject({ pageNum: 1, totalNum: 3 });
    expect(data.rows[0]).toEqual({ day: '2026/11/02', region: 'north', amount: 30 });
    expect(sql[0]).toContain(`"region" IN ('north', 'south')`);
    expect(typeof timingMs).toBe('number');
  });

  it('publishes version 1 and serves it', async () => {
    const res = await admin('POST', `/admin/apis/${id}/publish`);
    expect(res.json().data).toMatchObject({ status: 'published', version: 1, draftChanged: false });
    const call = await app.inject({ headers: appHeaders, url: '/api/shop/sales?pageSize=2' });
    expect(call.statusCode).toBe(200);
    expect(call.headers['x-rollgate-api-version']).toBe('1');
    expect(call.json().data).toMatchObject({ pageNum: 1, pageSize: 2, totalNum: 4 });
    expect(call.json().data.rows.map((r: { region: string }) => r.region)).toEqual(['east', 'north']);
  });

  it('keeps serving version 1 while an edit waits as a draft, then publishes version 2', async () => {
    const edited = { ...wizard, responseParams: wizard.responseParams.filter((p) => p.column !== 'amount') };
    const put = await admin('PUT', `/admin/apis/${id}`, edited);
    expect(put.json().data).toMatchObject({ status: 'published', version: 1, draftChanged: true });
    expect((await app.inject({ headers: appHeaders, url: '/api/shop/sales' })).json().data.rows[0]).toHaveProperty('amount');
    expect((await admin('POST', `/admin/apis/${id}/publish`)).json().data).toMatchObject({ version: 2 });
    expect((await app.inject({ headers: appHeaders, url: '/api/shop/sales' })).json().data.rows[0]).not.toHaveProperty('amount');
    const versions = (await admin('GET', `/admin/apis/${id}/versions`)).json().data;
    expect(versions.map((v: { version: number; serving: boolean }) => [v.version, v.serving])).toEqual([
      [2, true],
      [1, false],
    ]);
  });

  it('rolls back to version 1', async () => {
    const res = await admin('POST', `/admin/apis/${id}/rollback`, { version: 1 });
    expect(res.json().data).toMatchObject({ status: 'published', version: 1 });
    expect((await app.inject({ headers: appHeaders, url: '/api/shop/sales' })).json().data.rows[0]).toHaveProperty('amount');
    expect((await admin('POST', `/admin/apis/${id}/rollback`, { version: 9 })).statusCode).toBe(404);
  });

  it('answers DataV mode with the bare row array', async () => {
    const res = await app.inject({ headers: appHeaders, url: '/api/shop/sales?format=datav&region=east' });
    expect(res.json()).toEqual([{ day: '2026/11/03', region: 'east', amount: 40 }]);
  });

  it('describes published APIs in a valid OpenAPI 3.1 document', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/shop/sales', '/api/cpu-mem-5min']));
    await SwaggerParser.validate(structuredClone(doc));
  });

  it('refuses to delete a published API, takes it offline, then deletes it', async () => {
    expect((await admin('DELETE', `/admin/apis/${id}`)).json()).toMatchObject({ errCode: 1409 });
    expect((await admin('POST', `/admin/apis/${id}/offline`)).json().data).toMatchObject({ status: 'offline', version: 1 });
    expect((await app.inject({ headers: appHeaders, url: '/api/shop/sales' })).statusCode).toBe(404);
    expect((await admin('DELETE', `/admin/apis/${id}`)).statusCode).toBe(200);
    expect((await admin('GET', `/admin/apis/${id}`)).statusCode).toBe(404);
  });
});

describe('API definitions are checked on save', () => {
  it.each([
    [{ name: 'abc' }, 'name'],
    [{ name: '1abc' }, 'name'],
    [{ path: 'no-slash' }, 'path'],
    [{ path: `/${'a'.repeat(200)}` }, 'path'],
    [{ method: 'PUT' }, 'method'],
    [{ dataSource: 'nowhere' }, 'dataSource'],
    [{ table: 'missing_table' }, 'table'],
    [{ requestParams: [{ name: 'r', column: 'nope', type: 'STRING', operator: '=' }] }, 'requestParams[0].column'],
    [{ requestParams: [{ name: 'r', column: 'amount', type: 'DOUBLE', operator: 'like' }] }, 'requestParams[0].operator'],
    [{ requestParams: [{ name: 'r', column: 'amount', type: 'DOUBLE', operator: '=', default: 'abc' }] }, 'requestParams[0].default'],
    [{ requestParams: [{ name: 'pageSize', column: 'amount', type: 'DOUBLE', operator: '=' }] }, 'requestParams[0].name'],
    [{ responseParams: [{ column: 'day', type: 'DATE', dateFormat: 'yyyy-MM-dd Tnope' }] }, 'responseParams[0].dateFormat'],
    [{ sort: [{ column: 'ghost', order: 'ASC' }] }, 'sort[0].column'],
  ])('rejects %j naming %s', async (change, field) => {
    const res = await admin('POST', '/admin/apis', { ...wizard, name: 'checked_api', path: '/checked', ...change });
    expect([400, 404]).toContain(res.statusCode);
    expect(res.json().errMsg).toContain(field);
  });

  it('rejects a script that does not parse, with the position', async () => {
    const res = await admin('POST', '/admin/apis', {
      mode: 'script',
      name: 'bad_script',
      path: '/bad-script',
      dataSource: 'builtin_clickhouse',
      script: 'SELECT region FROM sales WHERE region = {{region}} ORDER BY',
      requestParams: [{ name: 'region', type: 'STRING' }],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errMsg).toMatch(/line 1, column \d+/);
  });

  it('rejects a script parameter that is not declared', async () => {
    const res = await admin('POST', '/admin/apis', {
      mode: 'script',
      name: 'bad_script',
      path: '/bad-script',
      dataSource: 'builtin_clickhouse',
      script: 'SELECT region FROM sales WHERE region = {{regoin}} ORDER BY region',
      requestParams: [{ name: 'region', type: 'STRING' }],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errMsg).toContain('regoin');
  });

  it('refuses a second API on a taken path or name with 409', async () => {
    const first = await admin('POST', '/admin/apis', { ...wizard, name: 'taken_path', path: '/taken' });
    expect(first.statusCode).toBe(201);
    expect((await admin('POST', '/admin/apis', { ...wizard, name: 'other_name', path: '/taken' })).json()).toMatchObject({ errCode: 1409 });
    expect((await admin('POST', '/admin/apis', { ...wizard, name: 'taken_path', path: '/free' })).json()).toMatchObject({ errCode: 1409 });
    expect((await admin('POST', '/admin/apis', { ...wizard, name: 'builtin_clash', path: '/cpu-mem-5min' })).json()).toMatchObject({ errCode: 1409 });
  });
});

describe('data sources', () => {
  it('stores credentials without ever showing them back', async () => {
    const created = await admin('POST', '/admin/datasources', {
      name: 'remote_mysql',
      kind: 'mysql',
      host: '127.0.0.1',
      port: 1,
      database: 'shop',
      user: 'reader',
      password: 's3cret-Pa55',
    });
    expect(created.statusCode).toBe(201);
    expect(created.body).not.toContain('s3cret-Pa55');
    const listed = await admin('GET', '/admin/datasources');
    expect(listed.body).not.toContain('s3cret-Pa55');
    expect(listed.json().data.find((d: { name: string }) => d.name === 'remote_mysql').config).toMatchObject({ passwordSet: true, user: 'reader' });
    // An update without the password keeps it.
    const updated = await admin('PUT', '/admin/datasources/remote_mysql', { kind: 'mysql', host: '127.0.0.1', port: 2, database: 'shop', user: 'reader' });
    expect(updated.json().data.config).toMatchObject({ port: 2, passwordSet: true });
  });

  it('reports an unreachable data source on the connectivity test with 503, without the password', async () => {
    const res = await admin('POST', '/admin/datasources/remote_mysql/test');
    expect(res.statusCode).toBe(503);
    expect(res.json().errCode).toBe(1502);
    expect(res.body).not.toContain('s3cret-Pa55');
  });

  it('passes the connectivity test of the built-in store', async () => {
    expect((await admin('POST', '/admin/datasources/builtin_clickhouse/test')).json().data).toMatchObject({ ok: true });
  });

  it('keeps built-in data sources read-only', async () => {
    expect((await admin('DELETE', '/admin/datasources/builtin_clickhouse')).json().errCode).toBe(1409);
  });
});

describe('methods', () => {
  it('answers HEAD on a GET API like GET, without a body', async () => {
    const res = await app.inject({ method: 'HEAD', headers: appHeaders, url: '/api/cpu-mem-5min' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
  });

  it('answers POST on a GET API with 405 and the Allow header', async () => {
    const res = await app.inject({ method: 'POST', headers: appHeaders, url: '/api/cpu-mem-5min', payload: {} });
    expect(res.statusCode).toBe(405);
    expect(res.headers['allow']).toBe('GET');
    expect(res.json().errCode).toBe(1405);
  });
});
