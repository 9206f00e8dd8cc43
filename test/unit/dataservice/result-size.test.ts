import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoundSql } from '../../../src/dataservice/bound-sql.js';
import { createConnector } from '../../../src/dataservice/datasources/index.js';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';
import { expectCode } from '../../helpers/errors.js';
import { adminHeaders, appHeaders, testGateway } from '../../helpers/gateway.js';

/** API_MAX_RESULT_BYTES: an answer is bounded in bytes as well as rows. */
let store: DuckDbStore;
let app: Awaited<ReturnType<typeof testGateway>>;

beforeAll(async () => {
  store = await DuckDbStore.open(':memory:');
  const conn = await store.database.connect();
  await conn.run("CREATE TABLE wide AS SELECT i AS id, repeat('x', 500) AS body FROM range(2000) t(i)");
  conn.closeSync();
  app = await testGateway(store, [], { API_MAX_RESULT_BYTES: '65536' });
  for (const [name, pagination] of [['wide_all', false], ['wide_paged', true]] as const) {
    const created = await app.inject({
      method: 'POST',
      url: '/admin/apis',
      headers: adminHeaders,
      payload: { mode: 'script', name, path: `/size/${name}`, dataSource: 'builtin_clickhouse', script: 'SELECT id, body FROM wide ORDER BY id', pagination },
    });
    expect(created.statusCode, created.body).toBe(201);
    const published = await app.inject({ method: 'POST', url: `/admin/apis/${created.json().data.id as string}/publish`, headers: adminHeaders });
    expect(published.statusCode, published.body).toBe(200);
  }
});
afterAll(async () => {
  await app.close();
  await store.close();
});

describe('API_MAX_RESULT_BYTES', () => {
  it('answers 413 PAYLOAD_TOO_LARGE for a result over the cap, and serves a page of it', async () => {
    const all = await app.inject({ url: '/api/size/wide_all', headers: appHeaders });
    expect(all.statusCode).toBe(413);
    expect(all.json()).toMatchObject({ errCode: 1413 });
    expect(all.json().errMsg).toContain('API_MAX_RESULT_BYTES');
    const page = await app.inject({ url: '/api/size/wide_paged?pageSize=20', headers: appHeaders });
    expect(page.statusCode, page.body).toBe(200);
    expect(page.json().data.rows).toHaveLength(20);
  });

  it('stops a DuckDB read once its rows pass the cap', async () => {
    const connector = await createConnector('local', { kind: 'duckdb', path: ':memory:' }, { duckdb: store.database });
    try {
      await expectCode(connector.query(BoundSql.text('SELECT id, body FROM wide'), { timeoutMs: 10_000, maxRows: 100_000, maxBytes: 10_000 }), 'PAYLOAD_TOO_LARGE');
      const small = await connector.query(BoundSql.text('SELECT id FROM wide LIMIT 3'), { timeoutMs: 10_000, maxRows: 100, maxBytes: 10_000 });
      expect(small.rows).toHaveLength(3);
    } finally {
      await connector.close();
    }
  });
});
