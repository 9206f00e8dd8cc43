import { rollups } from '../aggregators/index.js';
import { eventJsonSchema } from './core/event-schema.js';
import { printGraphQLSchema } from './graphql/schema.js';
import { clickhouseDdl } from './store/clickhouse-store.js';
import { webEventsDdl } from './store/web-events-table.js';
import { mysqlDdl } from './store/mysql-store.js';
import { regionOrdersDdl } from './store/region-orders-store.js';
import { DETAIL_TABLE, detailDdl } from './store/order-detail-clickhouse.js';
import { customersDdl, customersSeedSql, ordersDdl } from './demo/orders-source.js';

/**
 * Every checked-in file under schema/ that is derived from code, keyed by its
 * path. `npm run schema` writes them; a test fails when they drift.
 */
export async function generatedSchemaFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  files.set('schema/schema.graphql', await printGraphQLSchema());
  for (const spec of rollups) {
    const header = `-- Generated from aggregators/${spec.name}.ts by \`npm run schema\`; do not edit.\n`;
    if (spec.sink.store === 'clickhouse') {
      files.set(
        `schema/clickhouse/${spec.sink.table}.sql`,
        header +
          `-- Runs on ClickHouse 18.16 and current releases. {database} is CLICKHOUSE_DATABASE (default rollgate).\n` +
          clickhouseDdl(spec, 'rollgate').replace('`rollgate`.', '`{database}`.') +
          ';\n',
      );
    } else {
      files.set(
        `schema/mysql/${spec.sink.table}.sql`,
        header + `-- MySQL 8 and MariaDB 10.6+. {database} is the database of MYSQL_URL (default rollgate).\n` +
          mysqlDdl(spec, 'rollgate').replace('`rollgate`.', '`{database}`.') + ';\n',
      );
    }
    files.set(`schema/events/${spec.source.topic}.json`, JSON.stringify(eventJsonSchema(spec), null, 2) + '\n');
  }
  // The browser monitor's raw events (seed 003), which `rollgate monitor-sink` writes.
  files.set(
    'schema/clickhouse/web_events.sql',
    '-- Generated from src/store/web-events-table.ts by `npm run schema`; do not edit.\n' +
      '-- Runs on ClickHouse 18.16 and current releases. {database} is CLICKHOUSE_DATABASE (default rollgate).\n' +
      webEventsDdl('rollgate').replace('`rollgate`.', '`{database}`.') +
      ';\n',
  );
  // The order pipeline's source tables (seed 002), which `rollgate cdc` captures.
  const source = (code: string) => code.replaceAll('`rollgate`.', '`{database}`.');
  const sourceHeader =
    '-- Generated from src/demo/orders-source.ts by `npm run schema`; do not edit.\n' +
    '-- Seed 002\'s source table, in the database of MYSQL_URL ({database}, default rollgate).\n' +
    '-- `rollgate orders-generator` creates it; `rollgate cdc` captures it.\n';
  files.set('schema/mysql/orders.sql', sourceHeader + source(ordersDdl('rollgate')) + ';\n');
  files.set(
    'schema/mysql/customers.sql',
    sourceHeader + source(customersDdl('rollgate')) + ';\n\n-- Seed 002\'s 100 customers; INSERT IGNORE makes loading them idempotent.\n' + source(customersSeedSql('rollgate')) + ';\n',
  );
  files.set(
    'schema/mysql/region_orders.sql',
    '-- Generated from src/store/region-orders-store.ts by `npm run schema`; do not edit.\n' +
      '-- The region-orders aggregator (seed 002): results, the join\'s mirror state and consumed offsets, changed in one transaction per batch.\n' +
      '-- MySQL 8 and MariaDB 10.6+. {database} is the database of MYSQL_URL (default rollgate).\n' +
      regionOrdersDdl('rollgate').map((ddl) => source(ddl).replace(/\n {5}/g, '\n  ') + ';\n').join('\n'),
  );
  files.set(
    `schema/clickhouse/${DETAIL_TABLE}.sql`,
    '-- Generated from src/store/order-detail-clickhouse.ts by `npm run schema`; do not edit.\n' +
      '-- Seed 002\'s enriched detail, written by the region-orders aggregator. Read with FINAL WHERE is_deleted = 0.\n' +
      '-- Runs on ClickHouse 18.16 and current releases. {database} is CLICKHOUSE_DATABASE (default rollgate).\n' +
      detailDdl('rollgate').replace('`rollgate`.', '`{database}`.') +
      ';\n',
  );
  return files;
}
