import { invalidParameter, missingParameter } from '../errors.js';
import type { Dialect, TypedValue } from './bound-sql.js';
import { RESERVED_PARAMS, type ApiDefinition, type Operator, type RequestParam } from './definition.js';
import { parseValue, type RawScalar } from './request-values.js';

/** One parameter's checked value: a single value, or the list of an `in` / `between` operator. */
export type ParamValue = { kind: 'one'; value: TypedValue } | { kind: 'list'; values: TypedValue[] };

export interface BoundRequest {
  values: Map<string, ParamValue>;
  /** Absent when the API has no pagination. */
  page: { pageNum: number; pageSize: number } | undefined;
  format: 'envelope' | 'datav';
  /** The request in canonical form: equal requests give equal keys whatever the spelling. */
  cacheKey: string;
}

export interface PageLimits {
  defaultPageSize: number;
  maxPageSize: number;
}

/** A query string (values repeat as arrays) and, for POST, the parsed JSON body. */
export interface RawRequest {
  query: Record<string, string | string[] | undefined>;
  body?: unknown;
}

const MAX_LIST = 1000;
const MAX_PAGE_NUM = 1_000_000;

/**
 * Checks a call against its API's request parameters: unknown names, repeats,
 * required and default values, types, list operators and paging. REST, the
 * admin test call and (later) GraphQL all bind through here, so the same bad
 * input gets the same errCode everywhere.
 */
export function bindRequest(def: ApiDefinition, raw: RawRequest, dialect: Dialect, limits: PageLimits): BoundRequest {
  const inputs = collectInputs(def, raw);
  const values = new Map<string, ParamValue>();
  for (const param of def.requestParams) {
    const operator: Operator = 'operator' in param ? param.operator : '=';
    let given = inputs.get(param.name);
    if (given === undefined && param.default !== undefined) given = { values: [param.default], list: false };
    if (given === undefined) {
      if (param.required) throw missingParameter(param.name);
      continue;
    }
    values.set(param.name, bindParam(param, operator, given, dialect));
  }

  const page = def.pagination ? bindPage(raw.query, limits) : undefined;
  const format = bindFormat(raw.query['format'], def.datav);
  const canonical = [...values.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, v]) => [name, v.kind === 'one' ? canonicalValue(v.value) : v.values.map(canonicalValue)]);
  return { values, page, format, cacheKey: JSON.stringify([canonical, page?.pageNum, page?.pageSize]) };
}

/** A parameter's raw values; `list` when the caller sent a list (repeated key, JSON array), so it is never split on commas. */
interface Input {
  values: RawScalar[];
  list: boolean;
}

function collectInputs(def: ApiDefinition, raw: RawRequest): Map<string, Input> {
  const declared = new Set(def.requestParams.map((p) => p.name));
  const reserved = new Set<string>(RESERVED_PARAMS);
  const inputs = new Map<string, Input>();
  const unknown = (name: string) =>
    invalidParameter(
      name,
      `unknown parameter ${name}; this API takes ${[...declared, ...(def.pagination ? ['pageNum', 'pageSize'] : []), 'format'].join(', ')}`,
    );

  for (const [name, value] of Object.entries(raw.query)) {
    if (value === undefined || reserved.has(name)) continue;
    if (!declared.has(name)) throw unknown(name);
    const list = (Array.isArray(value) ? value : [value]).filter((v) => v !== '');
    if (list.length > 0) inputs.set(name, { values: list, list: Array.isArray(value) });
  }

  if (raw.body !== undefined && raw.body !== null) {
    if (def.method !== 'POST') throw invalidParameter('body', `a ${def.method} API takes query parameters only`);
    if (typeof raw.body !== 'object' || Array.isArray(raw.body)) throw invalidParameter('body', 'the body must be a JSON object');
    for (const [name, value] of Object.entries(raw.body as Record<string, unknown>)) {
      if (reserved.has(name)) throw invalidParameter(name, `${name} belongs in the query string`);
      if (!declared.has(name)) throw unknown(name);
      if (inputs.has(name)) throw invalidParameter(name, `${name} is given in both the query string and the body`);
      if (value === null || value === '') continue;
      const list = (Array.isArray(value) ? value : [value]).filter((item) => item !== '');
      for (const item of list) {
        if (typeof item !== 'string' && typeof item !== 'number' && typeof item !== 'boolean') {
          throw invalidParameter(name, `${name} must be a string, number or boolean${Array.isArray(value) ? ' list' : ''}`);
        }
      }
      if (list.length > 0) inputs.set(name, { values: list as RawScalar[], list: Array.isArray(value) });
    }
  }
  return inputs;
}

function bindParam(param: RequestParam, operator: Operator, input: Input, dialect: Dialect): ParamValue {
  const name = param.name;
  const given = input.values;
  const one = (raw: RawScalar) => parseValue(name, param.type, raw, dialect);
  // A single value may carry a list comma-separated, as DataV sends it; a list sent as a list is taken as is.
  const items = !input.list && given.length === 1 && typeof given[0] === 'string' ? given[0].split(',') : given;
  switch (operator) {
    case 'in': {
      if (items.length > MAX_LIST) throw invalidParameter(name, `${name} takes at most ${MAX_LIST} values`);
      return { kind: 'list', values: items.map(one) };
    }
    case 'between': {
      if (items.length !== 2) throw invalidParameter(name, `${name} takes exactly two values: low,high`);
      const [lo, hi] = items.map(one) as [TypedValue, TypedValue];
      if (compare(lo, hi) > 0) throw invalidParameter(name, `${name}: the low value must not exceed the high value`);
      return { kind: 'list', values: [lo, hi] };
    }
    default: {
      if (given.length !== 1) throw invalidParameter(name, `${name} must be given once`);
      return { kind: 'one', value: one(given[0] as RawScalar) };
    }
  }
}

function bindPage(query: RawRequest['query'], limits: PageLimits): { pageNum: number; pageSize: number } {
  const int = (name: string, fallback: number, max: number): number => {
    const raw = query[name];
    if (raw === undefined || raw === '') return fallback;
    if (Array.isArray(raw)) throw invalidParameter(name, `${name} must be given once`);
    if (!/^\d{1,9}$/.test(raw)) throw invalidParameter(name, `${name} must be an integer between 1 and ${max}`);
    const n = Number(raw);
    if (n < 1 || n > max) throw invalidParameter(name, `${name} must be between 1 and ${max}`);
    return n;
  };
  return { pageNum: int('pageNum', 1, MAX_PAGE_NUM), pageSize: int('pageSize', limits.defaultPageSize, limits.maxPageSize) };
}

function bindFormat(raw: string | string[] | undefined, datavByDefault: boolean): 'envelope' | 'datav' {
  if (raw === undefined || raw === '') return datavByDefault ? 'datav' : 'envelope';
  if (raw === 'datav') return 'datav';
  if (raw === 'json' || raw === 'envelope') return 'envelope';
  throw invalidParameter('format', 'format must be datav or json');
}

function compare(a: TypedValue, b: TypedValue): number {
  const x = a.value instanceof Date ? a.value.getTime() : a.value;
  const y = b.value instanceof Date ? b.value.getTime() : b.value;
  return x < y ? -1 : x > y ? 1 : 0;
}

function canonicalValue(v: TypedValue): string | number | boolean {
  if (v.value instanceof Date) return v.value.toISOString();
  if (typeof v.value === 'bigint') return v.value.toString();
  return v.value;
}
