import { BoundSql, type Dialect, type TypedValue } from './bound-sql.js';
import type { BoundRequest, ParamValue } from './bind-request.js';
import type { ScriptDefinition, WizardDefinition } from './definition.js';
import { renderScript, type ScriptTemplate } from './sql-template.js';

/** The statements one API call runs: the rows, and for a paged API the total. */
export interface CompiledQuery {
  rows: BoundSql;
  count: BoundSql | undefined;
  /** Rows the data query may return: a page, or the unpaged cap plus one to see a cut. */
  fetchRows: number;
}

const SAFE_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Identifiers were checked against the table when the API was saved; quoting here is a second fence. */
export function quoteIdent(name: string, dialect: Dialect): string {
  return name
    .split('.')
    .map((part) => {
      if (!SAFE_IDENTIFIER.test(part)) throw new Error(`not an identifier: ${part}`);
      return dialect === 'duckdb' ? `"${part}"` : `\`${part}\``;
    })
    .join('.');
}

/** LIMIT/OFFSET as text: both are integers the binder produced, and ClickHouse 18.16 wants `LIMIT offset, n`. */
function limitClause(dialect: Dialect, limit: number, offset: number): string {
  if (!Number.isSafeInteger(limit) || !Number.isSafeInteger(offset)) throw new Error('limit and offset must be integers');
  return dialect === 'clickhouse' ? ` LIMIT ${offset}, ${limit}` : ` LIMIT ${limit} OFFSET ${offset}`;
}

function pageWindow(request: BoundRequest, maxRows: number): { limit: number; offset: number; fetchRows: number } {
  if (request.page === undefined) return { limit: maxRows + 1, offset: 0, fetchRows: maxRows + 1 };
  const { pageNum, pageSize } = request.page;
  return { limit: pageSize, offset: (pageNum - 1) * pageSize, fetchRows: pageSize };
}

/** `%`, `_` and the escape itself are literal in a user's like/prefix value. */
function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function condition(column: string, operator: string, value: ParamValue, dialect: Dialect): BoundSql {
  const col = quoteIdent(column, dialect);
  const one = (v: ParamValue): TypedValue => {
    if (v.kind !== 'one') throw new Error(`operator ${operator} takes one value`);
    return v.value;
  };
  const list = (v: ParamValue): TypedValue[] => (v.kind === 'list' ? v.values : [v.value]);
  // DuckDB's LIKE has no default escape character; MySQL and ClickHouse use backslash.
  const escape = dialect === 'duckdb' ? " ESCAPE '\\'" : '';
  switch (operator) {
    case '=':
    case '!=':
    case '>':
    case '>=':
    case '<':
    case '<=':
      return BoundSql.text(`${col} ${operator} `).append(BoundSql.value(one(value)));
    case 'in':
      return BoundSql.text(`${col} IN (`).append(BoundSql.join(list(value).map(BoundSql.value), ', ')).append(')');
    case 'between': {
      const [lo, hi] = list(value);
      if (lo === undefined || hi === undefined) throw new Error('between takes two values');
      return BoundSql.text(`${col} BETWEEN `).append(BoundSql.value(lo)).append(' AND ').append(BoundSql.value(hi));
    }
    case 'like':
    case 'prefix': {
      const v = one(value);
      if (v.type !== 'STRING') throw new Error(`${operator} takes a string`);
      const pattern = operator === 'like' ? `%${escapeLike(v.value)}%` : `${escapeLike(v.value)}%`;
      return BoundSql.text(`${col} LIKE `).append(BoundSql.value({ type: 'STRING', value: pattern })).append(escape);
    }
    default:
      throw new Error(`unknown operator ${operator}`);
  }
}

/**
 * Wizard mode: one table, the selected columns, one condition per given
 * parameter, the sort fields, then every selected column as a tie-breaker so
 * equal sort keys still come back in one fixed order and pages never overlap.
 */
export function compileWizard(
  def: WizardDefinition,
  request: BoundRequest,
  dialect: Dialect,
  options: { readFinal: boolean; maxRows: number },
): CompiledQuery {
  return wizardCompiler(def, dialect, options)(request, options.maxRows);
}

/**
 * compileWizard with the text that depends on the definition alone (columns, table, order) built once:
 * a prepared API compiles every call with it, and only the conditions and the page differ per call.
 */
export function wizardCompiler(def: WizardDefinition, dialect: Dialect, options: { readFinal: boolean }): (request: BoundRequest, maxRows: number) => CompiledQuery {
  const from = `${quoteIdent(def.table, dialect)}${options.readFinal && dialect === 'clickhouse' ? ' FINAL' : ''}`;
  const columns = [...new Set(def.responseParams.map((p) => p.column))];
  const sortColumns = new Set(def.sort.map((s) => s.column));
  const order = [
    ...def.sort.map((s) => `${quoteIdent(s.column, dialect)} ${s.order}`),
    ...columns.filter((c) => !sortColumns.has(c)).map((c) => quoteIdent(c, dialect)),
  ];
  const select = `SELECT ${columns.map((c) => quoteIdent(c, dialect)).join(', ')} FROM ${from}`;
  const orderBy = ` ORDER BY ${order.join(', ')}`;
  const countFrom = `SELECT count(*) AS total FROM ${from}`;
  return (request, maxRows) => {
    const conditions: BoundSql[] = [];
    for (const param of def.requestParams) {
      const value = request.values.get(param.name);
      if (value !== undefined) conditions.push(condition(param.column, param.operator, value, dialect));
    }
    const where = conditions.length === 0 ? BoundSql.text('') : BoundSql.text(' WHERE ').append(BoundSql.join(conditions, ' AND '));
    const { limit, offset, fetchRows } = pageWindow(request, maxRows);
    const rows = BoundSql.text(select).append(where).append(orderBy).append(limitClause(dialect, limit, offset));
    const count = request.page === undefined ? undefined : BoundSql.text(countFrom).append(where);
    return { rows, count, fetchRows };
  };
}

/**
 * Script mode: the saved SQL with its optional clauses resolved. A paged
 * script has a top-level ORDER BY and no LIMIT (checked on save), so the page
 * is appended; the total counts the unpaged statement as a subquery. What is
 * appended starts on a new line, so a script ending in a `--` comment cannot
 * swallow it.
 */
export function compileScript(
  def: ScriptDefinition,
  template: ScriptTemplate,
  request: BoundRequest,
  dialect: Dialect,
  options: { maxRows: number },
): CompiledQuery {
  const values = new Map<string, TypedValue>();
  for (const [name, v] of request.values) {
    if (v.kind === 'one') values.set(name, v.value);
  }
  const statement = stripTerminator(renderScript(template, values));
  const { limit, offset, fetchRows } = pageWindow(request, options.maxRows);
  if (request.page !== undefined || !template.hasLimit) {
    return {
      rows: statement.append(`\n${limitClause(dialect, limit, offset)}`),
      count: request.page === undefined ? undefined : BoundSql.text('SELECT count(*) AS total FROM (').append(statement).append('\n) AS rollgate_q'),
      fetchRows,
    };
  }
  // The script limits itself: cap it from outside without touching its own LIMIT.
  return { rows: BoundSql.text('SELECT * FROM (').append(statement).append(`\n) AS rollgate_q${limitClause(dialect, limit, 0)}`), count: undefined, fetchRows };
}

function stripTerminator(statement: BoundSql): BoundSql {
  const parts = [...statement.parts];
  parts[parts.length - 1] = (parts[parts.length - 1] ?? '').replace(/[\s;]+$/, '');
  return new BoundSql(parts, statement.params);
}
