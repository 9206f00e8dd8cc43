import { rollups } from '../aggregators/index.js';
import { eventJsonSchema } from './core/event-schema.js';
import { printGraphQLSchema } from './graphql/schema.js';
import { clickhouseDdl } from './store/clickhouse-store.js';

/**
 * Every checked-in file under schema/ that is derived from code, keyed by its
 * path. `npm run schema` writes them; a test fails when they drift.
 */
export async function generatedSchemaFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  files.set('schema/schema.graphql', await printGraphQLSchema());
  for (const spec of rollups) {
    files.set(
      `schema/clickhouse/${spec.sink.table}.sql`,
      `-- Generated from aggregators/${spec.name}.ts by \`npm run schema\`; do not edit.\n` +
        `-- Runs on ClickHouse 18.16 and current releases. {database} is CLICKHOUSE_DATABASE (default rollgate).\n` +
        clickhouseDdl(spec, 'rollgate').replace('`rollgate`.', '`{database}`.') +
        ';\n',
    );
    files.set(`schema/events/${spec.source.topic}.json`, JSON.stringify(eventJsonSchema(spec), null, 2) + '\n');
  }
  return files;
}
