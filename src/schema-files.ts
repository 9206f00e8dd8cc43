import { rollups } from '../aggregators/index.js';
import { eventJsonSchema } from './core/event-schema.js';
import { printGraphQLSchema } from './graphql/schema.js';
import { clickhouseDdl } from './store/clickhouse-store.js';
import { mysqlDdl } from './store/mysql-store.js';

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
  return files;
}
