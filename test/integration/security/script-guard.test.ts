import type { FastifyInstance } from 'fastify';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../helpers/events.js';
import { adminHeaders, appHeaders, stackGateway } from '../../helpers/gateway.js';
import { stackEnv } from '../../helpers/stack.js';

/**
 * Script APIs on the built-in sources of a gateway composed as `rollgate serve` composes it, on the real MySQL
 * (whose database also holds rollgate's catalog, as in the README's setup) and ClickHouse: none may read
 * rollgate's own tables or a server catalog, nor call a side-effecting function, whether the script is saved
 * now or was saved before these rules existed.
 */
const stack = stackEnv();
const database = uniqueName('rg_guard').replace(/[^A-Za-z0-9_]/g, '_');
const env = {
  CLICKHOUSE_URL: stack.CLICKHOUSE_URL,
  CLICKHOUSE_DATABASE: database,
  MYSQL_URL: `${stack.MYSQL_URL.replace(/\/[^/]*$/, '')}/${database}`,
  REDIS_URL: stack.REDIS_URL,
};
let app: FastifyInstance;
let my: mysql.Connection;

async function save(script: string, dataSource: string) {
  const res = await app.inject({
    method: 'POST',
    url: '/admin/apis',
    headers: adminHeaders,
    payload: { mode: 'script', name: uniqueName('guard').replace(/[^A-Za-z0-9_]/g, '_').slice(0, 40), path: `/guard/${uniqueName('p').replace(/[^A-Za-z0-9]/g, '')}`, dataSource, script, pagination: false },
  });
  return { status: res.statusCode, body: res.json() as { errCode: number; errMsg: string; data: { id: string } | null } };
}

beforeAll(async () => {
  my = await mysql.createConnection(stack.MYSQL_URL.replace(/\/[^/]*$/, '/'));
  await my.query(`CREATE DATABASE \`${database}\``);
  await my.query(`CREATE TABLE \`${database}\`.notes (id INT PRIMARY KEY, body VARCHAR(100) NOT NULL)`);
  await my.query(`INSERT INTO \`${database}\`.notes VALUES (1, 'hello')`);
  ({ app } = await stackGateway(env));
});

afterAll(async () => {
  await app?.close();
  await my?.query(`DROP DATABASE IF EXISTS \`${database}\``).catch(() => undefined);
  await my?.end();
});

describe('script APIs cannot reach what is not data', () => {
  it.each([
    ['builtin_mysql', 'SELECT app_key, sealed_secret FROM rollgate_apps'],
    ['builtin_mysql', 'SELECT name, sealed_config FROM rollgate_datasources'],
    ['builtin_mysql', 'SELECT n.body FROM notes n WHERE EXISTS (SELECT 1 FROM rollgate_apps a WHERE a.app_key = n.body)'],
    ['builtin_mysql', 'SELECT user, authentication_string FROM mysql.user'],
    ['builtin_mysql', 'SELECT table_name FROM information_schema.tables'],
    ['builtin_mysql', "SELECT LOAD_FILE('/etc/passwd') AS f"],
    ['builtin_mysql', 'SELECT SLEEP(3) AS s FROM notes'],
    ['builtin_mysql', "SELECT BENCHMARK(10000000, MD5('a')) AS b"],
    ['builtin_mysql', "SELECT GET_LOCK('rollgate', 10) AS l"],
    ['builtin_mysql', 'SELECT @@datadir AS d'],
    ['builtin_clickhouse', 'SELECT name FROM system.users'],
    ['builtin_clickhouse', 'SELECT sum(number) AS s FROM system.numbers'],
    ['builtin_clickhouse', 'SELECT sleep(3) AS s'],
    ['builtin_clickhouse', 'SELECT * FROM rollgate_checkpoints'],
  ])('%s refuses on save: %s', async (dataSource, script) => {
    const { status, body } = await save(script, dataSource);
    expect(status, body.errMsg).toBe(400);
    expect(body.errCode).toBe(1400);
    expect(body.data).toBeNull();
  });

  it('still serves a plain SELECT over a data table', async () => {
    const saved = await save('SELECT id, body FROM notes ORDER BY id', 'builtin_mysql');
    expect(saved.status, saved.body.errMsg).toBe(201);
  });

  it('refuses to serve a script saved before the rules, without running it', async () => {
    const path = `/guard/old${Date.now()}`;
    const created = await app.inject({
      method: 'POST',
      url: '/admin/apis',
      headers: adminHeaders,
      payload: { mode: 'script', name: `old_${Date.now()}`, path, dataSource: 'builtin_mysql', script: 'SELECT body AS k FROM notes', pagination: false },
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = (created.json() as { data: { id: string } }).data.id;
    const published = await app.inject({ method: 'POST', url: `/admin/apis/${id}/publish`, headers: adminHeaders });
    expect(published.statusCode, published.body).toBe(200);
    // As an older release would have stored it.
    for (const [table, column] of [['rollgate_api_versions', 'definition'], ['rollgate_apis', 'draft']]) {
      await my.query(`UPDATE \`${database}\`.${table} SET ${column} = REPLACE(${column}, 'SELECT body AS k FROM notes', 'SELECT sealed_secret AS k FROM rollgate_apps')`);
    }
    const { app: later } = await stackGateway(env);
    try {
      const res = await later.inject({ url: `/api${path}`, headers: appHeaders });
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json()).toMatchObject({ errCode: 1403 });
      const [secrets] = await my.query<mysql.RowDataPacket[]>(`SELECT sealed_secret FROM \`${database}\`.rollgate_apps`);
      for (const row of secrets) expect(res.body).not.toContain(String(row['sealed_secret']));
    } finally {
      await later.close();
    }
  });
});
