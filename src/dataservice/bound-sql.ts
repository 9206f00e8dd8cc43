/**
 * SQL text with its values kept apart until a data source binds them.
 *
 * DataService queries are assembled from trusted text (identifiers checked
 * against the table, operators from a fixed list, the saved script) and
 * untrusted values (request parameters). Values never join the text here:
 * `parts` and `params` interleave like a tagged template, `parts.length ===
 * params.length + 1`, and each connector binds them its own way (`?`
 * placeholders for MySQL and DuckDB, the audited literal formatter for
 * ClickHouse, which has no server-side parameters on 18.16).
 */

export type Dialect = 'clickhouse' | 'mysql' | 'duckdb';

export const PARAM_TYPES = ['STRING', 'INT', 'LONG', 'DOUBLE', 'BOOLEAN', 'DATE', 'DATETIME'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];

/** A checked request value, tagged with the type it was parsed as. */
export type TypedValue =
  | { type: 'STRING'; value: string }
  | { type: 'INT'; value: number }
  | { type: 'LONG'; value: bigint }
  | { type: 'DOUBLE'; value: number }
  | { type: 'BOOLEAN'; value: boolean }
  /** A calendar date, `YYYY-MM-DD`. */
  | { type: 'DATE'; value: string }
  /** An instant; stores see it in UTC. */
  | { type: 'DATETIME'; value: Date };

export class BoundSql {
  constructor(
    readonly parts: readonly string[],
    readonly params: readonly TypedValue[],
  ) {
    if (parts.length !== params.length + 1) throw new Error('BoundSql needs one more text part than values');
  }

  static text(text: string): BoundSql {
    return new BoundSql([text], []);
  }

  static value(value: TypedValue): BoundSql {
    return new BoundSql(['', ''], [value]);
  }

  /** Concatenates fragments, with `separator` (trusted text) between them. */
  static join(fragments: readonly BoundSql[], separator = ''): BoundSql {
    let out = BoundSql.text('');
    fragments.forEach((fragment, i) => {
      out = out.append(i === 0 ? fragment : BoundSql.text(separator).append(fragment));
    });
    return out;
  }

  append(other: BoundSql | string): BoundSql {
    const next = typeof other === 'string' ? BoundSql.text(other) : other;
    const parts = [...this.parts];
    const last = parts.pop() ?? '';
    const [first = '', ...rest] = next.parts;
    return new BoundSql([...parts, last + first, ...rest], [...this.params, ...next.params]);
  }

  /** The text with `placeholder(i)` in place of value i (`?` for MySQL and DuckDB). */
  render(placeholder: (index: number, value: TypedValue) => string): string {
    let out = this.parts[0] ?? '';
    this.params.forEach((value, i) => {
      out += placeholder(i, value) + (this.parts[i + 1] ?? '');
    });
    return out;
  }
}
