import { z } from 'zod';
import { PARAM_TYPES, type ParamType } from './bound-sql.js';

/**
 * What an admin writes to define a DataService API (seed 004, "Generate API").
 * The zod schemas are the single source of the shape: the admin routes parse
 * with them, the catalog stores their output, OpenAPI describes from it.
 * Checks that need the data source (columns exist, SQL parses) live in
 * api-validation.ts.
 */

export const OPERATORS = ['=', '!=', '>', '>=', '<', '<=', 'in', 'like', 'prefix', 'between'] as const;
export type Operator = (typeof OPERATORS)[number];

/** Names the gateway reads itself (paging, the answer format, an app's appCode): no API may declare them. */
export const RESERVED_PARAMS = ['pageNum', 'pageSize', 'format', 'appCode'] as const;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const column = z.string().regex(IDENTIFIER, 'must be a column name (letters, digits and _)');
const paramName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]{0,49}$/, 'must be 1-50 letters, digits or _, starting with a letter')
  .refine((n) => !(RESERVED_PARAMS as readonly string[]).includes(n), { message: `must not be one of ${RESERVED_PARAMS.join(', ')}` });
const text = (max: number) => z.string().max(max).default('');
const paramType = z.enum(PARAM_TYPES);

const commonRequestParam = {
  name: paramName,
  type: paramType,
  required: z.boolean().default(false),
  /** Used when the caller leaves the parameter out; written like a query-string value. */
  default: z.string().max(1000).optional(),
  example: z.string().max(1000).optional(),
  description: text(500),
};

export const WizardRequestParamSchema = z.strictObject({
  ...commonRequestParam,
  column,
  operator: z.enum(OPERATORS),
});
export type WizardRequestParam = z.output<typeof WizardRequestParamSchema>;

export const ScriptRequestParamSchema = z.strictObject(commonRequestParam);
export type ScriptRequestParam = z.output<typeof ScriptRequestParamSchema>;
export type RequestParam = WizardRequestParam | ScriptRequestParam;

export const ResponseParamSchema = z.strictObject({
  column,
  /** The key in each returned row; the column name when absent. */
  name: paramName.optional(),
  type: paramType,
  description: text(500),
  example: z.string().max(1000).optional(),
  /** date-fns pattern for DATE and DATETIME values, e.g. `yyyy-MM-dd HH:mm:ss`; ISO-8601 UTC when absent. */
  dateFormat: z.string().min(1).max(64).optional(),
});
export type ResponseParam = z.output<typeof ResponseParamSchema>;

const common = {
  name: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]{3,49}$/, 'must be 4-50 letters, digits or _, starting with a letter'),
  group: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_-]{0,49}$/, 'must be 1-50 letters, digits, _ or -, starting with a letter')
    .default('default'),
  path: z
    .string()
    .max(200, 'must be at most 200 characters')
    .regex(/^\/[A-Za-z0-9_\-./]*$/, 'must start with / and hold only letters, digits, _, -, . and /')
    .refine((p) => !p.includes('//') && !p.split('/').includes('..') && !p.split('/').includes('.'), {
      message: 'must not contain empty, . or .. segments',
    }),
  method: z.enum(['GET', 'POST']).default('GET'),
  description: text(500),
  dataSource: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'must name a data source'),
  pagination: z.boolean().default(true),
  /** DataV widgets take bare arrays: answer with the row array instead of the envelope. */
  datav: z.boolean().default(false),
  timeoutMs: z.number().int().min(100).max(600_000).optional(),
  /** Rows an API without pagination returns at most; the server's API_MAX_ROWS when absent. */
  maxRows: z.number().int().min(1).max(1_000_000).optional(),
};

export const WizardDefinitionSchema = z.strictObject({
  ...common,
  mode: z.literal('wizard'),
  /** One table of the data source, optionally `database.table`. */
  table: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63})?$/, 'must be a table name'),
  requestParams: z.array(WizardRequestParamSchema).max(50).default([]),
  responseParams: z.array(ResponseParamSchema).min(1).max(200),
  sort: z.array(z.strictObject({ column, order: z.enum(['ASC', 'DESC']).default('ASC') })).max(20).default([]),
});
export type WizardDefinition = z.output<typeof WizardDefinitionSchema>;

export const ScriptDefinitionSchema = z.strictObject({
  ...common,
  mode: z.literal('script'),
  script: z.string().min(1).max(20_000),
  requestParams: z.array(ScriptRequestParamSchema).max(50).default([]),
  /** Optional: types and formats for output columns; columns not listed pass through as read. */
  responseParams: z.array(ResponseParamSchema).max(200).default([]),
});
export type ScriptDefinition = z.output<typeof ScriptDefinitionSchema>;

export const ApiDefinitionSchema = z.discriminatedUnion('mode', [WizardDefinitionSchema, ScriptDefinitionSchema]);
export type ApiDefinition = z.output<typeof ApiDefinitionSchema>;
/** What a client sends: defaults may be left out. */
export type ApiDefinitionInput = z.input<typeof ApiDefinitionSchema>;

/** The key each response column appears under. */
export function outputName(p: ResponseParam): string {
  return p.name ?? p.column;
}

/** Which operators make sense for which types; checked when an API is saved. */
export function operatorAllowed(operator: Operator, type: ParamType): boolean {
  switch (operator) {
    case 'like':
    case 'prefix':
      return type === 'STRING';
    case '>':
    case '>=':
    case '<':
    case '<=':
    case 'between':
      return type !== 'BOOLEAN';
    case '=':
    case '!=':
    case 'in':
      return true;
  }
}
