import nodeSqlParser from 'node-sql-parser';
import type { ColumnType, MeasureSpec, SourceField } from '../core/rollup-spec.js';
import { RollgateError } from '../errors.js';

// node-sql-parser is CommonJS; its classes arrive on the default export under NodeNext.
const { Parser } = nodeSqlParser;

/** Where in the SQL text a problem is, 1-based, as the parser counts. */
export interface SqlPosition {
  line: number;
  column: number;
}

/** A realtime node's SQL the engine cannot run; `position` points at the offending part when the parser knows it. */
export class FlowSqlError extends RollgateError {
  constructor(
    readonly reason: string,
    readonly position: SqlPosition | undefined,
    field: string,
  ) {
    super('INVALID_FLOW_SQL', position === undefined ? `${field}: ${reason}` : `${field}: ${reason} (line ${position.line}, column ${position.column})`, { field });
  }
}

export type Literal = string | number;

/** A WHERE clause the engine evaluates per event: JSON-safe, so it can be shown in deploy data. */
export type Predicate =
  | { op: 'and' | 'or'; args: Predicate[] }
  | { op: 'not'; arg: Predicate }
  | { op: '=' | '!=' | '<' | '<=' | '>' | '>='; field: string; value: Literal }
  | { op: 'in' | 'not in'; field: string; values: Literal[] };

/** What a realtime node's SQL compiles to: the parts of a RollupSpec it decides. */
export interface CompiledSql {
  /** The table in FROM: must be the upstream node's result table. */
  from: string;
  groupBy: string[];
  measures: MeasureSpec[];
  where: Predicate | undefined;
}

const AGGREGATES = { MAX: 'max', MIN: 'min', SUM: 'sum', AVG: 'avg', COUNT: 'count' } as const;
const COMPARISONS = new Set(['=', '!=', '<>', '<', '<=', '>', '>=']);

interface Loc {
  start: { line: number; column: number };
}
/** The slice of node-sql-parser's AST this compiler reads; everything else is refused by its `type`. */
interface AstNode {
  type?: string;
  loc?: Loc;
  [key: string]: unknown;
}

/**
 * Compiles `SELECT <aggregates and group columns> FROM <table> [WHERE <simple
 * predicates>] GROUP BY <columns>` with a real SQL parser. The window is not
 * in the SQL (it comes from the node's window_type and count_freq), and
 * neither is event time (the source's time field). Anything else is refused
 * with the reason and, where the parser gives one, the line and column.
 */
export function compileRealtimeSql(sql: string, fields: readonly SourceField[], field = 'sql'): CompiledSql {
  const fail = (reason: string, node?: AstNode): never => {
    throw new FlowSqlError(reason, node?.loc === undefined ? undefined : { line: node.loc.start.line, column: node.loc.start.column }, field);
  };
  let ast: unknown;
  try {
    ast = new Parser().astify(sql, { database: 'MySQL', parseOptions: { includeLocations: true } });
  } catch (err) {
    const location = (err as { location?: Loc }).location;
    const found = /but (.+) found\.?$/.exec(err instanceof Error ? err.message : '')?.[1];
    throw new FlowSqlError(
      found === undefined ? 'syntax error' : `syntax error: unexpected ${found}`,
      location === undefined ? undefined : { line: location.start.line, column: location.start.column },
      field,
    );
  }
  if (Array.isArray(ast)) {
    if (ast.length !== 1) fail('exactly one statement is expected');
    ast = ast[0];
  }
  const select = ast as AstNode;
  if (select.type !== 'select') fail(`only SELECT is supported, not ${String(select.type).toUpperCase()}`);
  for (const clause of ['with', 'having', 'orderby', 'limit', 'window', 'distinct'] as const) {
    const value = select[clause];
    const present = clause === 'limit' ? (value as { value?: unknown[] } | null)?.value?.length : value;
    if (present !== null && present !== undefined && present !== 0) fail(`${clause.toUpperCase()} is not supported in a realtime node`, value as AstNode);
  }

  const from = select['from'] as AstNode[] | null;
  if (from === null || from.length !== 1) fail('FROM must name exactly one table (joins are not supported)');
  const table = (from as AstNode[])[0] as AstNode;
  if (typeof table['table'] !== 'string' || table['join'] !== undefined || table['expr'] !== undefined) fail('FROM must name a table', table);

  const known = new Map(fields.map((f) => [f.name, f]));
  const columnOf = (node: AstNode): SourceField => {
    if (node.type !== 'column_ref') return fail('expected a column', node);
    const name = columnName(node);
    if (name === '*') return fail('* is only allowed in count(*)', node);
    const f = known.get(name);
    if (f === undefined) return fail(`unknown field ${name}: the source has ${[...known.keys()].join(', ')}`, node);
    return f;
  };

  const groupBy: string[] = [];
  const groupNodes = ((select['groupby'] as { columns?: AstNode[] } | null)?.columns ?? []) as AstNode[];
  for (const g of groupNodes) {
    const f = columnOf(g);
    if (f.type === 'timestamp') fail(`cannot group by the event time ${f.name}: the window groups time`, g);
    if (!groupBy.includes(f.name)) groupBy.push(f.name);
  }

  const measures: MeasureSpec[] = [];
  const columns = select['columns'] as Array<{ expr: AstNode; as: string | null }> | string;
  if (!Array.isArray(columns)) return fail('SELECT * is not supported: name the group columns and aggregates');
  for (const column of columns) {
    const expr = column.expr;
    if (expr.type === 'column_ref') {
      const f = columnOf(expr);
      if (!groupBy.includes(f.name)) fail(`${f.name} must appear in GROUP BY or inside an aggregate`, expr);
      if (column.as !== null && column.as !== f.name) fail(`a group column cannot be renamed (${f.name} AS ${column.as})`, expr);
      continue;
    }
    if (expr.type !== 'aggr_func') fail(`only aggregates (max, min, sum, avg, count) and group columns may be selected, not ${describe(expr)}`, expr);
    const fn = String(expr['name']).toUpperCase();
    const op = (AGGREGATES as Record<string, MeasureSpec['op'] | undefined>)[fn];
    if (op === undefined) return fail(`aggregate ${fn.toLowerCase()} is not supported (use max, min, sum, avg or count)`, expr);
    const args = expr['args'] as { expr: AstNode; distinct?: string | null } | undefined;
    const arg = args?.expr;
    if (expr['over'] !== null && expr['over'] !== undefined) fail('window functions (OVER) are not supported', expr);
    if (column.as === null) fail(`${fn.toLowerCase()}(...) needs a name: add AS <column>`, expr);
    const name = String(column.as);
    let measure: MeasureSpec;
    if (args?.distinct) {
      if (op !== 'count' || arg === undefined) return fail('DISTINCT is only supported as count(DISTINCT <field>)', expr);
      const f = columnOf(arg);
      measure = { name, op: 'distinct', field: f.name, type: 'uint64', description: `approximate count(DISTINCT ${f.name})` };
    } else if (op === 'count') {
      // count(*) and count(field) agree here: every field of an accepted event is present.
      if (arg !== undefined && arg.type !== 'star' && !(arg.type === 'column_ref' && columnName(arg) === '*')) columnOf(arg);
      measure = { name, op: 'count', type: 'uint64', description: 'count(*)' };
    } else {
      if (arg === undefined) return fail(`${fn.toLowerCase()} needs a field`, expr);
      const f = columnOf(arg);
      if (f.type === 'timestamp') fail(`${fn.toLowerCase()} of the event time ${f.name} is not supported`, arg);
      if (f.type === 'string') fail(`${fn.toLowerCase()} needs a numeric field; ${f.name} is a string`, arg);
      measure = { name, op, field: f.name, type: measureType(op, f.type as ColumnType), description: `${fn.toLowerCase()}(${f.name})` };
    }
    if (measures.some((m) => m.name === name) || groupBy.includes(name)) fail(`column ${name} appears twice`, expr);
    measures.push(measure);
  }
  if (measures.length === 0) fail('select at least one aggregate (max, min, sum, avg or count)');
  if (groupBy.length === 0) fail('GROUP BY is required: a realtime node aggregates per group and window');

  const whereNode = select['where'] as AstNode | null;
  const where = whereNode === null ? undefined : predicate(whereNode, columnOf, fail);
  return { from: String(table['table']), groupBy, measures, where };
}

function predicate(node: AstNode, columnOf: (n: AstNode) => SourceField, fail: (reason: string, node?: AstNode) => never): Predicate {
  if (node.type === 'binary_expr') {
    const op = String(node['operator']).toUpperCase();
    const left = node['left'] as AstNode;
    const right = node['right'] as AstNode;
    if (op === 'AND' || op === 'OR') {
      return { op: op === 'AND' ? 'and' : 'or', args: [predicate(left, columnOf, fail), predicate(right, columnOf, fail)] };
    }
    if (COMPARISONS.has(op)) {
      const f = columnOf(left);
      return { op: op === '<>' ? '!=' : (op as '=' | '!=' | '<' | '<=' | '>' | '>='), field: f.name, value: literal(right, f, fail, node) };
    }
    if (op === 'IN' || op === 'NOT IN') {
      const f = columnOf(left);
      if (right.type !== 'expr_list' || !Array.isArray(right['value'])) return fail('IN needs a list of values', node);
      const values = (right['value'] as AstNode[]).map((v) => literal(v, f, fail, node));
      return { op: op === 'IN' ? 'in' : 'not in', field: f.name, values };
    }
    return fail(`operator ${op} is not supported in WHERE (use =, !=, <, <=, >, >=, IN, AND, OR, NOT)`, node);
  }
  if (node.type === 'function' && functionName(node) === 'NOT') {
    const arg = ((node['args'] as { value?: AstNode[] } | undefined)?.value ?? [])[0];
    if (arg === undefined) return fail('NOT needs an operand', node);
    return { op: 'not', arg: predicate(arg, columnOf, fail) };
  }
  if (node.type === 'unary_expr' && String(node['operator']).toUpperCase() === 'NOT') {
    return { op: 'not', arg: predicate(node['expr'] as AstNode, columnOf, fail) };
  }
  return fail(`${describe(node)} is not supported in WHERE: compare a field with a value`, node);
}

function literal(node: AstNode, f: SourceField, fail: (reason: string, node?: AstNode) => never, at: AstNode): Literal {
  const value = node['value'];
  if (node.type === 'number' && typeof value === 'number') {
    if (f.type === 'string') return fail(`${f.name} is a string: compare it with a quoted value`, at);
    return value;
  }
  if ((node.type === 'single_quote_string' || node.type === 'string' || node.type === 'double_quote_string') && typeof value === 'string') {
    if (f.type !== 'string') return fail(`${f.name} is numeric: compare it with a number`, at);
    return value;
  }
  if (node.type === 'column_ref') return fail('comparing two fields is not supported: compare a field with a value', at);
  return fail(`expected a number or a quoted string, not ${describe(node)}`, at);
}

/** Evaluates a compiled WHERE on an event's values (the pure filter of the RollupSpec). */
export function evaluate(p: Predicate, values: Readonly<Record<string, string | number>>): boolean {
  switch (p.op) {
    case 'and':
      return p.args.every((a) => evaluate(a, values));
    case 'or':
      return p.args.some((a) => evaluate(a, values));
    case 'not':
      return !evaluate(p.arg, values);
    case 'in':
      return p.values.includes(valueOf(values, p.field));
    case 'not in':
      return !p.values.includes(valueOf(values, p.field));
    case '=':
      return valueOf(values, p.field) === p.value;
    case '!=':
      return valueOf(values, p.field) !== p.value;
    case '<':
      return valueOf(values, p.field) < p.value;
    case '<=':
      return valueOf(values, p.field) <= p.value;
    case '>':
      return valueOf(values, p.field) > p.value;
    case '>=':
      return valueOf(values, p.field) >= p.value;
  }
}

function valueOf(values: Readonly<Record<string, string | number>>, field: string): string | number {
  return values[field] ?? '';
}

function measureType(op: MeasureSpec['op'], source: ColumnType): ColumnType {
  if (op === 'avg') return 'float64';
  if (op === 'sum') return source === 'float64' ? 'float64' : source === 'int64' ? 'int64' : 'uint64';
  return source;
}

function columnName(node: AstNode): string {
  const column = node['column'];
  if (typeof column === 'string') return column;
  const inner = (column as { expr?: { value?: unknown } } | undefined)?.expr?.value;
  return String(inner);
}

function functionName(node: AstNode): string {
  const name = node['name'] as { name?: Array<{ value?: unknown }> } | string | undefined;
  if (typeof name === 'string') return name.toUpperCase();
  return String(name?.name?.[0]?.value ?? '').toUpperCase();
}

function describe(node: AstNode): string {
  switch (node.type) {
    case 'function':
      return `function ${functionName(node).toLowerCase()}`;
    case 'binary_expr':
      return `an expression with ${String(node['operator'])}`;
    case 'case':
      return 'CASE';
    case undefined:
      return 'this expression';
    default:
      return node.type.replaceAll('_', ' ');
  }
}
