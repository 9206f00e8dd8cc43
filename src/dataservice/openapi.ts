import type { ParamType } from './bound-sql.js';
import type { ServedApi } from './api-service.js';
import { outputName, type ApiDefinition, type RequestParam } from './definition.js';

type Schema = Record<string, unknown>;

const VALUE_SCHEMA: Record<ParamType, Schema> = {
  STRING: { type: 'string' },
  INT: { type: 'integer', format: 'int32' },
  LONG: { type: 'integer', format: 'int64' },
  DOUBLE: { type: 'number', format: 'double' },
  BOOLEAN: { type: 'boolean' },
  DATE: { type: 'string', format: 'date' },
  DATETIME: { type: 'string', format: 'date-time', description: 'ISO-8601 (UTC unless it has an offset) or epoch milliseconds' },
};

/** How each type comes back in a row: 64-bit integers beyond 2^53 arrive as strings to stay exact. */
function outputSchema(type: ParamType, dateFormat: string | undefined): Schema {
  if (type === 'LONG') return { type: ['integer', 'string'], description: 'a string when beyond 2^53' };
  if ((type === 'DATE' || type === 'DATETIME') && dateFormat !== undefined) return { type: 'string', description: `formatted as ${dateFormat} (UTC)` };
  if (type === 'DATETIME') return { type: 'string', format: 'date-time' };
  return VALUE_SCHEMA[type];
}

function paramSchema(p: RequestParam): Schema {
  const operator = 'operator' in p ? p.operator : '=';
  const base = VALUE_SCHEMA[p.type];
  if (operator === 'in') return { type: 'array', items: base, maxItems: 1000 };
  if (operator === 'between') return { type: 'array', items: base, minItems: 2, maxItems: 2 };
  return base;
}

function describeParam(p: RequestParam): string {
  const operator = 'operator' in p ? ` (${p.column} ${p.operator})` : '';
  return `${p.description}${operator}`.trim();
}

function rowSchema(def: ApiDefinition): Schema {
  const properties: Record<string, Schema> = {};
  for (const p of def.responseParams) {
    properties[outputName(p)] = { ...outputSchema(p.type, p.dateFormat), ...(p.description === '' ? {} : { description: p.description }) };
  }
  return { type: 'object', properties, additionalProperties: def.mode === 'script' };
}

function operation(api: ServedApi): Schema {
  const def = api.definition;
  const inQuery = def.method === 'GET' ? def.requestParams : [];
  const parameters: Schema[] = inQuery.map((p) => ({
    name: p.name,
    in: 'query',
    required: p.required && p.default === undefined,
    description: describeParam(p),
    schema: { ...paramSchema(p), ...(p.default === undefined ? {} : { default: p.default }) },
    ...(p.example === undefined ? {} : { example: p.example }),
    ...('operator' in p && (p.operator === 'in' || p.operator === 'between') ? { style: 'form', explode: true } : {}),
  }));
  if (def.pagination) {
    parameters.push(
      { name: 'pageNum', in: 'query', required: false, schema: { type: 'integer', minimum: 1, default: 1 } },
      { name: 'pageSize', in: 'query', required: false, schema: { type: 'integer', minimum: 1 } },
    );
  }
  parameters.push({
    name: 'format',
    in: 'query',
    required: false,
    description: 'datav: answer with the bare row array',
    schema: { type: 'string', enum: ['json', 'datav'] },
  });
  const rows = { type: 'array', items: rowSchema(def) };
  const data = def.pagination
    ? { type: 'object', required: ['pageNum', 'pageSize', 'totalNum', 'rows'], properties: { pageNum: { type: 'integer' }, pageSize: { type: 'integer' }, totalNum: { type: 'integer' }, rows } }
    : { type: 'object', required: ['rows', 'truncated', 'rowLimit'], properties: { rows, truncated: { type: 'boolean' }, rowLimit: { type: 'integer' } } };
  const error = { description: 'Error envelope', content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } } } };
  return {
    operationId: def.name,
    summary: def.description === '' ? def.name : def.description,
    tags: [def.group],
    parameters,
    ...(def.method === 'POST'
      ? {
          requestBody: {
            required: def.requestParams.some((p) => p.required && p.default === undefined),
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  additionalProperties: false,
                  properties: Object.fromEntries(def.requestParams.map((p) => [p.name, { ...paramSchema(p), description: describeParam(p) }])),
                  required: def.requestParams.filter((p) => p.required && p.default === undefined).map((p) => p.name),
                },
              },
            },
          },
        }
      : {}),
    responses: {
      '200': {
        description: def.datav ? 'The row array (DataV mode)' : 'The DataService envelope; with format=datav the bare row array',
        content: {
          'application/json': {
            schema: def.datav
              ? rows
              : {
                  oneOf: [
                    { type: 'object', required: ['errCode', 'errMsg', 'requestId', 'data'], properties: { errCode: { const: 0 }, errMsg: { type: 'string' }, requestId: { type: 'string' }, data } },
                    rows,
                  ],
                },
          },
        },
      },
      '400': error,
      '401': error,
      '403': error,
      '404': error,
      '413': error,
      '429': error,
      '500': error,
      '503': error,
      '504': error,
    },
  };
}

/** OpenAPI 3.1 for what is published right now. */
export function openApiDocument(apis: readonly ServedApi[], info: { version: string }): Schema {
  const paths: Record<string, Schema> = {};
  for (const api of apis) paths[`/api${api.definition.path}`] = { [api.definition.method.toLowerCase()]: operation(api) };
  return {
    openapi: '3.1.0',
    info: {
      title: 'rollgate DataService',
      version: info.version,
      description: 'Published DataService APIs. Errors keep the envelope with a stable numeric errCode.',
    },
    paths,
    components: {
      schemas: {
        ErrorEnvelope: {
          type: 'object',
          required: ['errCode', 'errMsg', 'requestId', 'data'],
          properties: { errCode: { type: 'integer' }, errMsg: { type: 'string' }, requestId: { type: 'string' }, data: { type: 'null' } },
        },
      },
    },
  };
}
