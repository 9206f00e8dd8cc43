import { invalidParameter, RollgateError } from '../errors.js';
import type { Dialect } from './bound-sql.js';
import type { BoundRequest } from './bind-request.js';
import { compileScript, wizardCompiler, type CompiledQuery } from './compile-query.js';
import { operatorAllowed, outputName, type ApiDefinition, type RequestParam, type ResponseParam } from './definition.js';
import type { DataSourceConnector, TableInfo } from './datasources/connector.js';
import { parseValue } from './request-values.js';
import { checkDateFormat } from './shape-rows.js';
import { guardTable } from './sql-guard.js';
import { parseScript } from './sql-template.js';

/** An API definition checked against its data source and ready to compile calls. */
export interface PreparedApi {
  definition: ApiDefinition;
  dialect: Dialect;
  connector: DataSourceConnector;
  /** Tables read, lower-case and unqualified: the cache keys on the rollup tables among them. */
  tables: string[];
  compile(request: BoundRequest, maxRows: number): CompiledQuery;
}

/**
 * Everything a save must check beyond the shape: the table and its columns
 * exist, operators fit the column types, defaults parse, date patterns are
 * valid, the script parses and uses only declared parameters, a paged script
 * has a stable order. The same function prepares a published version for
 * serving, so what was accepted on save is exactly what runs.
 */
export async function prepareApi(def: ApiDefinition, connector: DataSourceConnector): Promise<PreparedApi> {
  const dialect = connector.dialect;
  checkUniqueNames(def);
  for (const [i, p] of def.requestParams.entries()) checkParamValues(p, `requestParams[${i}]`, dialect);
  for (const [i, p] of def.responseParams.entries()) checkDateFormatOf(p, `responseParams[${i}]`);

  if (def.mode === 'wizard') {
    guardTable(def.table);
    const table = await describe(connector, def.table);
    const columns = new Map(table.columns.map((c) => [c.name, c]));
    const column = (name: string, field: string) => {
      const c = columns.get(name);
      if (c === undefined) throw invalidParameter(field, `${field}: table ${def.table} has no column ${name}`);
      return c;
    };
    def.requestParams.forEach((p, i) => {
      column(p.column, `requestParams[${i}].column`);
      if (!operatorAllowed(p.operator, p.type)) {
        throw invalidParameter(`requestParams[${i}].operator`, `requestParams[${i}].operator: ${p.operator} does not apply to ${p.type}`);
      }
    });
    def.responseParams.forEach((p, i) => column(p.column, `responseParams[${i}].column`));
    def.sort.forEach((s, i) => column(s.column, `sort[${i}].column`));
    const tableName = (def.table.split('.').pop() ?? def.table).toLowerCase();
    return {
      definition: def,
      dialect,
      connector,
      tables: [tableName],
      compile: wizardCompiler(def, dialect, { readFinal: table.readFinal }),
    };
  }

  const template = parseScript(
    def.script,
    dialect,
    def.requestParams.map((p) => p.name),
  );
  if (def.pagination && !template.hasOrderBy) {
    throw invalidParameter('script', 'script: a paged API needs a top-level ORDER BY so pages keep one order (make it unique, e.g. end with a key)');
  }
  if (def.pagination && template.hasLimit) {
    throw invalidParameter('script', 'script: a paged API gets its LIMIT from pageNum and pageSize; remove the LIMIT or turn pagination off');
  }
  return {
    definition: def,
    dialect,
    connector,
    tables: template.tables,
    compile: (request, maxRows) => compileScript(def, template, request, dialect, { maxRows }),
  };
}

async function describe(connector: DataSourceConnector, table: string): Promise<TableInfo> {
  try {
    return await connector.describeTable(table);
  } catch (err) {
    if (err instanceof RollgateError && err.code === 'NOT_FOUND') throw invalidParameter('table', `table: ${err.message}`);
    throw err;
  }
}

function checkUniqueNames(def: ApiDefinition): void {
  const seen = new Set<string>();
  def.requestParams.forEach((p, i) => {
    if (seen.has(p.name)) throw invalidParameter(`requestParams[${i}].name`, `requestParams[${i}].name: ${p.name} is declared twice`);
    seen.add(p.name);
  });
  const out = new Set<string>();
  def.responseParams.forEach((p, i) => {
    const name = outputName(p);
    if (out.has(name)) throw invalidParameter(`responseParams[${i}].name`, `responseParams[${i}].name: ${name} is returned twice`);
    out.add(name);
  });
}

function checkParamValues(p: RequestParam, field: string, dialect: Dialect): void {
  const list = 'operator' in p && (p.operator === 'in' || p.operator === 'between');
  for (const key of ['default', 'example'] as const) {
    const value = p[key];
    if (value === undefined) continue;
    try {
      for (const item of list ? value.split(',') : [value]) parseValue(p.name, p.type, item, dialect);
    } catch (err) {
      throw invalidParameter(`${field}.${key}`, `${field}.${key}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

function checkDateFormatOf(p: ResponseParam, field: string): void {
  if (p.dateFormat === undefined) return;
  if (p.type !== 'DATE' && p.type !== 'DATETIME') {
    throw invalidParameter(`${field}.dateFormat`, `${field}.dateFormat: only DATE and DATETIME values take a date format`);
  }
  const problem = checkDateFormat(p.dateFormat);
  if (problem !== undefined) throw invalidParameter(`${field}.dateFormat`, `${field}.dateFormat: ${problem}`);
}
