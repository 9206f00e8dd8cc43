/**
 * The SQL template of a script-mode DataService API.
 *
 * A script is SQL in its data source's dialect where `{{name}}` stands for a
 * request parameter and `[[ … ]]` marks an optional clause, dropped when a
 * parameter inside it is not given:
 *
 *   SELECT ip, max(cpu) AS cpu FROM cpu_mem_5min FINAL
 *   WHERE ip = {{ip}} [[AND window_start >= {{from}}]] GROUP BY ip
 *
 * Saving a script runs `parseScript`, which checks the placeholders and
 * clauses itself and the SQL with node-sql-parser. Serving a request runs
 * `renderScript`, which only cuts and splices the checked source: request
 * values go into BoundSql params, never into its text.
 */
import mysqlGrammar from 'node-sql-parser/build/mysql.js';
import postgresGrammar from 'node-sql-parser/build/postgresql.js';
import { invalidParameter, missingParameter, RollgateError } from '../errors.js';
import { BoundSql, type Dialect, type TypedValue } from './bound-sql.js';
import { prop, walk } from './sql-ast.js';
import { guardScript } from './sql-guard.js';

export type ScriptSegment =
  | { kind: 'text'; text: string }
  | { kind: 'param'; name: string }
  /** Kept only when every one of `params` has a value. */
  | { kind: 'optional'; params: readonly string[]; segments: readonly ScriptPiece[] };

/** What an optional clause holds: clauses do not nest. */
export type ScriptPiece = Extract<ScriptSegment, { kind: 'text' | 'param' }>;

export interface ScriptTemplate {
  /** The SQL as saved. */
  readonly source: string;
  readonly dialect: Dialect;
  /** Parameter names used, in order of first use. */
  readonly params: string[];
  /** Parameters used outside every optional clause: a request without them fails. */
  readonly requiredParams: string[];
  /**
   * Tables read (lower case, unqualified, deduplicated), for cache
   * invalidation. CTE names are listed too: a name too many costs nothing,
   * while dropping a CTE name that shadows a real table would lose that table.
   */
  readonly tables: string[];
  /** A top-level ORDER BY is there whichever optional clauses are dropped (so pages can rely on it). */
  readonly hasOrderBy: boolean;
  /** A top-level LIMIT is there when some optional clauses are kept (so appending another could clash). */
  readonly hasLimit: boolean;
  /** The source cut at placeholders and clauses, for renderScript. */
  readonly segments: readonly ScriptSegment[];
}

const PARAM_NAME = /^[A-Za-z][A-Za-z0-9_]{0,49}$/;

/**
 * Validates and compiles a script. Throws RollgateError INVALID_PARAMETER
 * (field `script`) whose message says where: "line L, column C".
 */
export function parseScript(sql: string, dialect: Dialect, declaredParams: readonly string[]): ScriptTemplate {
  const { tokens, mask } = lex(sql, dialect);
  checkParamsDeclared(sql, tokens, declaredParams);
  checkJunctions(sql, tokens);
  checkCode(sql, mask);

  const withClauses = parseOrFail(sql, tokens, dialect, true);
  const kept = checkSelect(sql, mask, withClauses.ast);
  guardScript(withClauses.ast, withClauses.tableList, dialect);
  const hasClauses = tokens.some((t) => t.kind === 'open');
  const dropped = hasClauses ? checkSelect(sql, mask, parseOrFail(sql, tokens, dialect, false).ast) : kept;

  const params = unique(tokens.flatMap((t) => (t.kind === 'param' ? [t.name] : [])));
  const unused = declaredParams.filter((name) => !params.includes(name));
  if (unused.length > 0) {
    const list = unused.join(', ');
    throw fail(`parameter${unused.length > 1 ? 's' : ''} ${list} ${unused.length > 1 ? 'are' : 'is'} declared but not used in the script`);
  }

  return {
    source: sql,
    dialect,
    params,
    requiredParams: requiredParams(tokens),
    tables: unique(withClauses.tableList.map(tableName).filter((name) => name !== 'null')),
    hasOrderBy: kept.hasOrderBy && dropped.hasOrderBy,
    hasLimit: kept.hasLimit || dropped.hasLimit,
    segments: toSegments(sql, tokens),
  };
}

/**
 * Drops each optional clause in which a parameter has no value and binds every
 * kept placeholder. Throws MISSING_PARAMETER for a parameter, used outside all
 * optional clauses, that has no value.
 */
export function renderScript(template: ScriptTemplate, values: ReadonlyMap<string, TypedValue>): BoundSql {
  const parts: string[] = [];
  const params: TypedValue[] = [];
  let text = '';
  const emit = (piece: ScriptPiece): void => {
    if (piece.kind === 'text') {
      text += piece.text;
      return;
    }
    const value = values.get(piece.name);
    if (value === undefined) throw missingParameter(piece.name);
    parts.push(text);
    params.push(value);
    text = '';
  };
  for (const segment of template.segments) {
    if (segment.kind !== 'optional') emit(segment);
    else if (segment.params.every((name) => values.has(name))) segment.segments.forEach(emit);
  }
  parts.push(text);
  return new BoundSql(parts, params);
}

// ---------------------------------------------------------------------------
// Lexing: placeholders and markers count only in SQL code, so the lexer knows
// each dialect's quotes and comments just well enough to step over them.

type Token =
  | { kind: 'text'; start: number; end: number }
  | { kind: 'param'; name: string; start: number; end: number }
  | { kind: 'open' | 'close'; start: number; end: number };

interface Lexed {
  tokens: Token[];
  /**
   * The source, same length, with comments blanked, quoted text as `_` and
   * placeholders as `0`: what regexes search to find statements and keywords
   * in code only.
   */
  mask: string;
}

function lex(sql: string, dialect: Dialect): Lexed {
  const tokens: Token[] = [];
  let mask = '';
  let textStart = 0;
  let openAt: number | undefined;
  let paramsInClause = 0;
  const push = (token: Token): void => {
    if (token.start > textStart) tokens.push({ kind: 'text', start: textStart, end: token.start });
    tokens.push(token);
    textStart = token.end;
  };

  let i = 0;
  while (i < sql.length) {
    const commentEnd = skipComment(sql, i, dialect);
    if (commentEnd !== undefined) {
      mask += blank(sql.slice(i, commentEnd));
      i = commentEnd;
      continue;
    }
    const quoteEnd = skipQuoted(sql, i, dialect);
    if (quoteEnd !== undefined) {
      mask += '_'.repeat(quoteEnd - i);
      i = quoteEnd;
      continue;
    }
    if (sql.startsWith('{{', i)) {
      const close = sql.indexOf('}}', i + 2);
      if (close < 0) throw fail(`unclosed {{ at ${at(sql, i)}`);
      const name = sql.slice(i + 2, close).trim();
      if (!PARAM_NAME.test(name)) {
        throw fail(
          `malformed parameter ${snippet(sql.slice(i, close + 2))} at ${at(sql, i)}: a name starts with a letter ` +
            'and has at most 50 letters, digits and _',
        );
      }
      push({ kind: 'param', name, start: i, end: close + 2 });
      mask += '0'.repeat(close + 2 - i);
      if (openAt !== undefined) paramsInClause += 1;
      i = close + 2;
      continue;
    }
    if (sql.startsWith('[[', i)) {
      if (openAt !== undefined) throw fail(`optional clauses cannot be nested: [[ at ${at(sql, i)} is inside the [[ at ${at(sql, openAt)}`);
      push({ kind: 'open', start: i, end: i + 2 });
      openAt = i;
      paramsInClause = 0;
      mask += '  ';
      i += 2;
      continue;
    }
    if (sql.startsWith(']]', i)) {
      if (openAt === undefined) throw fail(`]] at ${at(sql, i)} has no matching [[`);
      if (paramsInClause === 0) {
        // Also where a nested array literal was meant: `[ [1, 2] ]` is not a marker.
        throw fail(
          `the optional clause at ${at(sql, openAt)} has no parameter, so it could never be dropped ` +
            '(to write nested brackets, put a space between them)',
        );
      }
      push({ kind: 'close', start: i, end: i + 2 });
      openAt = undefined;
      mask += '  ';
      i += 2;
      continue;
    }
    mask += sql.charAt(i);
    i += 1;
  }
  if (openAt !== undefined) throw fail(`[[ at ${at(sql, openAt)} has no matching ]]`);
  if (textStart < sql.length) tokens.push({ kind: 'text', start: textStart, end: sql.length });
  return { tokens, mask };
}

/** The end of the comment starting at `i`, if one does. */
function skipComment(sql: string, i: number, dialect: Dialect): number | undefined {
  const lineComment = sql.startsWith('--', i) || (dialect !== 'duckdb' && sql.charAt(i) === '#');
  if (lineComment) {
    const eol = sql.indexOf('\n', i);
    return eol < 0 ? sql.length : eol;
  }
  if (!sql.startsWith('/*', i)) return undefined;
  // MySQL runs the body of /*! … */ as SQL: it would slip past the SELECT-only check.
  if (sql.charAt(i + 2) === '!') throw fail(`executable comments /*! … */ are not allowed (${at(sql, i)})`);
  // PostgreSQL (and so DuckDB and the grammar checking it) nests block comments; MySQL does not.
  let depth = 0;
  for (let j = i; j < sql.length - 1; j += 1) {
    if (sql.startsWith('*/', j)) {
      depth -= 1;
      if (depth === 0) return j + 2;
      j += 1;
    } else if (sql.startsWith('/*', j) && (depth === 0 || dialect === 'duckdb')) {
      depth += 1;
      j += 1;
    }
  }
  throw fail(`unclosed /* comment at ${at(sql, i)}`);
}

/** The end of the string literal or quoted identifier starting at `i`, if one does. */
function skipQuoted(sql: string, i: number, dialect: Dialect): number | undefined {
  const c = sql.charAt(i);
  let end: number | undefined;
  if (c === "'" || c === '"') {
    // MySQL and ClickHouse read backslash escapes in strings; DuckDB only in E'…'.
    const escapeStart = i > 0 && /[eE]/.test(sql.charAt(i - 1)) && !isWordChar(sql.charAt(i - 2));
    const backslash = dialect !== 'duckdb' || (c === "'" && escapeStart);
    end = closingQuote(sql, i, c, backslash);
  } else if (c === '`') {
    end = closingQuote(sql, i, c, false);
  } else if (c === '$' && dialect === 'duckdb' && !isWordChar(sql.charAt(i - 1))) {
    const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i))?.[0];
    if (tag === undefined) return undefined;
    const close = sql.indexOf(tag, i + tag.length);
    end = close < 0 ? undefined : close + tag.length;
  } else {
    return undefined;
  }
  if (end === undefined) throw fail(`unclosed quote ${c} at ${at(sql, i)}`);
  const inside = /\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}/.exec(sql.slice(i, end));
  if (inside) {
    // A bound value replaces a whole literal; it cannot sit inside one.
    throw fail(
      `parameters cannot be inside quotes: {{${inside[1] ?? ''}}} at ${at(sql, i + inside.index)}; ` +
        `write it as its own value, e.g. concat('%', {{${inside[1] ?? ''}}}, '%')`,
    );
  }
  return end;
}

/** The index after the quote closing the one at `i`; a doubled quote is an escaped quote. */
function closingQuote(sql: string, i: number, quote: string, backslash: boolean): number | undefined {
  for (let j = i + 1; j < sql.length; j += 1) {
    const c = sql.charAt(j);
    if (backslash && c === '\\') j += 1;
    else if (c === quote) {
      if (sql.charAt(j + 1) !== quote) return j + 1;
      j += 1;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Checks on the placeholders and clauses, before the SQL parser runs.

function checkParamsDeclared(sql: string, tokens: readonly Token[], declared: readonly string[]): void {
  for (const token of tokens) {
    if (token.kind === 'param' && !declared.includes(token.name)) {
      const known = declared.length > 0 ? `declared parameters: ${declared.join(', ')}` : 'no parameters are declared';
      throw fail(`unknown parameter {{${token.name}}} at ${at(sql, token.start)}; ${known}`);
    }
  }
}

/**
 * The parser sees placeholders as numbers and markers as spaces, but a request
 * renders markers as nothing and values the connector's way (`?` or a
 * literal). Text that would fuse into one token on either side of them would
 * make the checked SQL and the run SQL differ, so it is refused here.
 */
function checkJunctions(sql: string, tokens: readonly Token[]): void {
  const wordish = (c: string): boolean => /[A-Za-z0-9_$@{}]/.test(c);
  const joins = (left: string, right: string): boolean =>
    (wordish(left) && wordish(right)) || ['--', '/*', '*/'].includes(left + right);
  let openAt = 0;
  for (const token of tokens) {
    const before = sql.charAt(token.start - 1);
    const after = sql.charAt(token.end);
    if (token.kind === 'param' && (wordish(before) || before === '.' || wordish(after) || after === '.')) {
      throw fail(`put a space or an operator around {{${token.name}}} at ${at(sql, token.start)}`);
    }
    if (token.kind === 'open') {
      openAt = token.start;
      if (joins(before, after)) throw fail(`put a space before or after [[ at ${at(sql, token.start)}`);
    }
    if (token.kind === 'close') {
      if (joins(before, after)) throw fail(`put a space before or after ]] at ${at(sql, token.start)}`);
      if (joins(sql.charAt(openAt - 1), after)) {
        throw fail(`dropping the optional clause at ${at(sql, openAt)} would join the text around it; put a space before [[ or after ]]`);
      }
    }
  }
}

/** Checks on the SQL code around the placeholders; the mask keeps strings and comments out of them. */
function checkCode(sql: string, mask: string): void {
  const first = mask.search(/\S/);
  if (first < 0) throw fail('the script is empty');
  const second = /;[\s;]*[^\s;]/.exec(mask);
  if (second) throw fail(`only one statement can be published; another starts at ${at(sql, second.index + second[0].length - 1)}`);
  // Paging appends LIMIT after the statement: only whitespace may follow a final `;`, or a comment there would swallow it.
  const end = mask.indexOf(';');
  if (end >= 0 && /[^\s;]/.test(sql.slice(end + 1))) throw fail(`nothing may follow the final ";" (${at(sql, end)})`);
  // A raw driver placeholder would bind nothing, or the wrong value.
  const raw = /\?|(?<![A-Za-z0-9_$])\$(?:\d|[A-Za-z_])/.exec(mask);
  if (raw) throw fail(`write parameters as {{name}}, not ${raw[0]}… (${at(sql, raw.index)})`);
}

// ---------------------------------------------------------------------------
// The SQL parser. There is no ClickHouse grammar: ClickHouse SELECTs in the
// common subset parse with the MySQL one, and DuckDB's SQL is PostgreSQL's.

interface Grammar {
  parser: InstanceType<typeof mysqlGrammar.Parser>;
  database: string;
  /** Added to syntax errors when the grammar is a stand-in for the dialect. */
  note: string;
}

const mysqlParser = new mysqlGrammar.Parser();
const GRAMMARS: Record<Dialect, Grammar> = {
  mysql: { parser: mysqlParser, database: 'mysql', note: '' },
  clickhouse: {
    parser: mysqlParser,
    database: 'mysql',
    note: ' (ClickHouse scripts are checked with the MySQL grammar, which lacks some ClickHouse syntax, e.g. count() needs count(*))',
  },
  duckdb: {
    parser: new postgresGrammar.Parser(),
    database: 'postgresql',
    note: ' (DuckDB scripts are checked with the PostgreSQL grammar)',
  },
};

interface Parsed {
  ast: unknown;
  tableList: string[];
}

/**
 * Parses the script with every optional clause kept, or with all of them
 * dropped. Both texts keep the source's length and line breaks, so the
 * parser's positions are the source's.
 */
function parseOrFail(sql: string, tokens: readonly Token[], dialect: Dialect, keepOptional: boolean): Parsed {
  let text = '';
  let inClause = false;
  for (const token of tokens) {
    const source = sql.slice(token.start, token.end);
    if (token.kind === 'open' || token.kind === 'close') {
      inClause = token.kind === 'open';
      text += '  ';
    } else if (inClause && !keepOptional) text += blank(source);
    else if (token.kind === 'param') text += '1'.padEnd(source.length, '0');
    else text += source;
  }

  const grammar = GRAMMARS[dialect];
  try {
    const { ast, tableList } = grammar.parser.parse(text, { database: grammar.database });
    return { ast, tableList };
  } catch (err) {
    const failedAt = syntaxErrorOffset(err);
    if (failedAt === undefined) {
      throw new RollgateError('INVALID_PARAMETER', `the SQL parser rejected the script: ${errorMessage(err)}`, {
        field: 'script',
        cause: err,
      });
    }
    // Peggy often fails on the whitespace before the token it cannot take; point at that token.
    const offset = failedAt + (/^\s*/.exec(text.slice(failedAt))?.[0].length ?? 0);
    const when = keepOptional ? '' : ' with the optional [[ ]] clauses dropped';
    const message = `syntax error at ${at(sql, offset)}${when}: unexpected ${describeAt(text, tokens, offset)}${grammar.note}`;
    throw new RollgateError('INVALID_PARAMETER', message, { field: 'script', cause: err });
  }
}

/** Peggy's SyntaxError carries `location.start.offset`; anything else is not a syntax error. */
function syntaxErrorOffset(err: unknown): number | undefined {
  const offset = prop(prop(prop(err, 'location'), 'start'), 'offset');
  return typeof offset === 'number' ? offset : undefined;
}

/** What the parser stumbled on, in place of peggy's list of every token it expected. */
function describeAt(text: string, tokens: readonly Token[], offset: number): string {
  if (offset >= text.length) return 'end of input';
  const param = tokens.find((t) => t.kind === 'param' && t.start <= offset && offset < t.end);
  if (param?.kind === 'param' && /\d/.test(text.charAt(offset))) return `parameter {{${param.name}}}`;
  const word = /^[A-Za-z0-9_$]+/.exec(text.slice(offset))?.[0];
  if (word !== undefined) return JSON.stringify(word.slice(0, 40));
  return JSON.stringify(text.charAt(offset));
}

interface SelectShape {
  hasOrderBy: boolean;
  hasLimit: boolean;
}

/** The AST must be one SELECT that neither writes (INTO) nor locks rows. */
function checkSelect(sql: string, mask: string, ast: unknown): SelectShape {
  const statements = Array.isArray(ast) ? ast : [ast];
  const start = at(sql, Math.max(0, mask.search(/\S/)));
  const [statement] = statements;
  if (statements.length !== 1 || statement === undefined) throw fail(`the script must be exactly one statement (${start})`);
  const type = prop(statement, 'type');
  if (type !== 'select') {
    const what = typeof type === 'string' ? `, not ${type.toUpperCase()}` : '';
    throw fail(`only SELECT statements can be published${what} (${start})`);
  }

  for (const select of selects(statement)) {
    // No INTO reads as `into: { position: null }`.
    const into = prop(select, 'into');
    if ((prop(into, 'position') ?? null) !== null || (prop(into, 'keyword') ?? null) !== null) {
      throw fail(`SELECT … INTO cannot be published (${at(sql, keywordAt(mask, /\bINTO\b/i))})`);
    }
    const lock = prop(select, 'locking_read');
    if (lock !== undefined && lock !== null) {
      const where = keywordAt(mask, /\b(?:FOR\s+(?:UPDATE|SHARE)|LOCK\s+IN\s+SHARE\s+MODE)\b/i);
      throw fail(`locking reads (${String(lock)}) cannot be published (${at(sql, where)})`);
    }
  }

  // A UNION keeps its trailing ORDER BY/LIMIT on its last member, or in
  // `_orderby`/`_limit` of the first when its members are parenthesised
  // (then the members' own ORDER BY/LIMIT are not the statement's).
  let last = statement;
  while (prop(last, '_next') !== undefined) last = prop(last, '_next');
  const holder = last === statement || prop(last, 'parentheses_symbol') !== true ? last : undefined;
  return {
    hasOrderBy: nonEmpty(prop(statement, '_orderby')) || nonEmpty(prop(holder, 'orderby')),
    hasLimit: hasLimitValue(prop(statement, '_limit')) || hasLimitValue(prop(holder, 'limit')),
  };
}

/** Every SELECT node in the tree: subqueries, CTEs and UNION members too. */
function selects(root: unknown): unknown[] {
  const found: unknown[] = [];
  walk(root, (node) => {
    if (prop(node, 'type') === 'select') found.push(node);
  });
  return found;
}

function keywordAt(mask: string, keyword: RegExp): number {
  const index = mask.search(keyword);
  return index >= 0 ? index : Math.max(0, mask.search(/\S/));
}

/** node-sql-parser writes no LIMIT as `null` (MySQL) or an empty value list (PostgreSQL). */
function hasLimitValue(limit: unknown): boolean {
  return nonEmpty(prop(limit, 'value'));
}

function nonEmpty(list: unknown): boolean {
  return Array.isArray(list) && list.length > 0;
}

// ---------------------------------------------------------------------------
// Building the template.

function toSegments(sql: string, tokens: readonly Token[]): ScriptSegment[] {
  const segments: ScriptSegment[] = [];
  let clause: ScriptPiece[] | undefined;
  for (const token of tokens) {
    if (token.kind === 'open') clause = [];
    else if (token.kind === 'close') {
      const pieces = clause ?? [];
      const params = unique(pieces.flatMap((p) => (p.kind === 'param' ? [p.name] : [])));
      segments.push({ kind: 'optional', params, segments: pieces });
      clause = undefined;
    } else {
      const piece: ScriptPiece =
        token.kind === 'param' ? { kind: 'param', name: token.name } : { kind: 'text', text: sql.slice(token.start, token.end) };
      (clause ?? segments).push(piece);
    }
  }
  return segments;
}

function requiredParams(tokens: readonly Token[]): string[] {
  const required: string[] = [];
  let inClause = false;
  for (const token of tokens) {
    if (token.kind === 'open' || token.kind === 'close') inClause = token.kind === 'open';
    else if (token.kind === 'param' && !inClause) required.push(token.name);
  }
  return unique(required);
}

/** `select::db::table` → `table`. */
function tableName(entry: string): string {
  return (entry.split('::').pop() ?? entry).toLowerCase();
}

// ---------------------------------------------------------------------------
// Small helpers.

function fail(message: string): RollgateError {
  return invalidParameter('script', message);
}

/** "line L, column C", counted like peggy counts: from 1, lines split at \n. */
function at(sql: string, offset: number): string {
  const before = sql.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}

/** Same length and line breaks, so later offsets and line numbers stay put. */
function blank(text: string): string {
  return text.replace(/[^\r\n]/g, ' ');
}

function isWordChar(c: string): boolean {
  return /[A-Za-z0-9_$]/.test(c);
}

function snippet(text: string): string {
  return text.length > 30 ? `${text.slice(0, 27)}...` : text;
}

function unique(names: readonly string[]): string[] {
  return [...new Set(names)];
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
