import { describe, expect, it } from 'vitest';
import { RollgateError } from '../../../src/errors.js';
import type { Dialect } from '../../../src/dataservice/bound-sql.js';
import { guardTable } from '../../../src/dataservice/sql-guard.js';
import { parseScript } from '../../../src/dataservice/sql-template.js';

function refusal(sql: string, dialect: Dialect): RollgateError {
  try {
    parseScript(sql, dialect, []);
  } catch (err) {
    expect(err).toBeInstanceOf(RollgateError);
    return err as RollgateError;
  }
  throw new Error(`accepted: ${sql}`);
}

describe('what a script API may read and call', () => {
  it.each<[Dialect, string]>([
    ['clickhouse', 'SELECT toStartOfHour(window_start) AS h, ip, max(cpu_usage_pct) AS cpu, count(*) AS n FROM cpu_mem_5min FINAL GROUP BY h, ip ORDER BY h'],
    ['clickhouse', 'SELECT host, uniqExact(host) AS u, toUInt32(sum(n)) AS s FROM metrics WHERE ts >= toDateTime(1700000000) GROUP BY host ORDER BY host'],
    ['mysql', "SELECT region, COUNT(*) AS orders, SUM(revenue) AS revenue, DATE_FORMAT(created, '%Y-%m') AS m FROM orders WHERE paid = 1 GROUP BY region, m ORDER BY region"],
    ['mysql', 'SELECT o.region, c.name FROM orders o JOIN (SELECT id, name FROM customers WHERE id <> -1) c ON c.id = o.customer_id ORDER BY o.region'],
    ['mysql', 'WITH t AS (SELECT region, ROUND(AVG(revenue), 2) AS a FROM orders GROUP BY region) SELECT region, COALESCE(a, 0) AS a FROM t ORDER BY region'],
    ['duckdb', "SELECT date_trunc('hour', window_start) AS h, max(mem) AS mem, epoch_ms(max(window_start)) AS ms FROM cpu_mem_5min GROUP BY 1 ORDER BY 1"],
  ])('accepts a plain %s SELECT over data tables', (dialect, sql) => {
    expect(() => parseScript(sql, dialect, [])).not.toThrow();
  });

  it.each<[Dialect, string, RegExp]>([
    // rollgate's own tables, however reached
    ['duckdb', 'SELECT app_key, sealed_secret FROM rollgate_apps', /rollgate_apps is one of rollgate's own tables/],
    ['mysql', 'SELECT app_key, sealed_secret FROM rollgate.rollgate_apps', /rollgate_apps/],
    ['mysql', 'SELECT a.k FROM (SELECT app_key AS k FROM ROLLGATE_APPS) a', /rollgate_apps/],
    ['mysql', 'SELECT 1 AS x FROM orders WHERE EXISTS (SELECT 1 FROM rollgate_datasources)', /rollgate_datasources/],
    ['clickhouse', 'SELECT * FROM rollgate_checkpoints', /rollgate_checkpoints/],
    ['mysql', 'SELECT o.id FROM orders o JOIN rollgate_flows f ON f.flow_id = o.id', /rollgate_flows/],
    // server catalogs
    ['mysql', 'SELECT user, authentication_string FROM mysql.user', /mysql\.user is a server catalog/],
    ['mysql', 'SELECT table_name FROM information_schema.tables', /information_schema/],
    ['clickhouse', 'SELECT name FROM system.users', /system\.users/],
    ['clickhouse', 'SELECT sum(number) AS s FROM system.numbers', /system\.numbers/],
    ['duckdb', 'SELECT * FROM duckdb_settings', /catalog table/],
    ['duckdb', 'SELECT * FROM pg_catalog.pg_tables', /server catalog/],
    // side effects, files, sleeps and locks
    ['mysql', "SELECT LOAD_FILE('/etc/passwd') AS f", /LOAD_FILE\(\)/],
    ['mysql', 'SELECT SLEEP(3) AS s FROM orders', /SLEEP\(\)/],
    ['mysql', "SELECT BENCHMARK(100000000, MD5('a')) AS b", /BENCHMARK\(\)/],
    ['mysql', "SELECT GET_LOCK('x', 10) AS l", /GET_LOCK\(\)/],
    ['mysql', 'SELECT region FROM orders WHERE id = (SELECT SLEEP(1))', /SLEEP/],
    ['mysql', 'SELECT @@datadir AS d', /variables/],
    ['clickhouse', 'SELECT sleep(3) AS s', /sleep\(\)/],
    ['duckdb', 'SELECT checkpoint() AS c', /checkpoint\(\)/],
    ['duckdb', 'SELECT force_checkpoint() AS c', /force_checkpoint\(\)/],
    ['duckdb', "SELECT getenv('HOME') AS h", /getenv\(\)/],
    ['mysql', 'SELECT mysql.some_udf(1) AS x', /mysql\.some_udf\(\)/],
    ['mysql', 'SELECT evil.concat(1) AS x', /evil\.concat\(\)/],
    ['duckdb', "SELECT * FROM s.read_csv('a')", /table function s\.read_csv\(\)/],
    // table functions
    ['duckdb', "SELECT * FROM read_csv('/etc/passwd')", /table function read_csv\(\)/],
    ['duckdb', 'SELECT * FROM duckdb_settings()', /table function duckdb_settings\(\)/],
    ['duckdb', "SELECT * FROM glob('/*')", /table function glob\(\)/],
  ])('refuses %s: %s', (dialect, sql, reason) => {
    const err = refusal(sql, dialect);
    expect(err.code).toBe('INVALID_PARAMETER');
    expect(err.field).toBe('script');
    expect(err.message).toMatch(reason);
  });

  it("refuses a wizard API over rollgate's own tables and server catalogs", () => {
    for (const table of ['rollgate_apps', 'rollgate.rollgate_api_versions', 'system.users', 'mysql.user', 'INFORMATION_SCHEMA.TABLES']) {
      expect(() => guardTable(table), table).toThrow(/table: /);
    }
    expect(() => guardTable('rollgate.cpu_mem_5min')).not.toThrow();
  });
});
