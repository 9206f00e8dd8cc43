import { describe, expect, it } from 'vitest';
import { bindRequest } from '../../../src/dataservice/bind-request.js';
import { compileWizard } from '../../../src/dataservice/compile-query.js';
import { WizardDefinitionSchema } from '../../../src/dataservice/definition.js';
import type { Dialect } from '../../../src/dataservice/bound-sql.js';

const def = WizardDefinitionSchema.parse({
  mode: 'wizard',
  name: 'orders_by_region',
  path: '/orders',
  dataSource: 'shop',
  table: 'shop.orders',
  requestParams: [
    { name: 'region', column: 'order_region', type: 'STRING', operator: 'in' },
    { name: 'minRevenue', column: 'order_revenue', type: 'DOUBLE', operator: '>=' },
    { name: 'customer', column: 'customer_name', type: 'STRING', operator: 'prefix' },
    { name: 'day', column: 'create_time', type: 'DATETIME', operator: 'between' },
  ],
  responseParams: [
    { column: 'id', type: 'LONG' },
    { column: 'order_region', name: 'region', type: 'STRING' },
    { column: 'order_revenue', type: 'DOUBLE' },
  ],
  sort: [{ column: 'order_revenue', order: 'DESC' }],
});
const limits = { defaultPageSize: 10, maxPageSize: 100 };
const render = (dialect: Dialect, query: Record<string, string | string[]>) => {
  const request = bindRequest(def, { query }, dialect, limits);
  const compiled = compileWizard(def, request, dialect, { readFinal: true, maxRows: 2000 });
  return { rows: compiled.rows.render(() => '?'), count: compiled.count?.render(() => '?'), params: compiled.rows.params, fetch: compiled.fetchRows };
};

describe('compileWizard', () => {
  it('selects the response columns with one bound condition per given parameter and a total order', () => {
    const q = render('mysql', { region: 'north,south', customer: 'a%_b', pageNum: '3', pageSize: '5' });
    expect(q.rows).toBe(
      'SELECT `id`, `order_region`, `order_revenue` FROM `shop`.`orders` WHERE `order_region` IN (?, ?) AND `customer_name` LIKE ? ' +
        'ORDER BY `order_revenue` DESC, `id`, `order_region` LIMIT 5 OFFSET 10',
    );
    expect(q.count).toBe('SELECT count(*) AS total FROM `shop`.`orders` WHERE `order_region` IN (?, ?) AND `customer_name` LIKE ?');
    // The caller's wildcards are literal: only the appended % matches anything.
    expect(q.params.map((p) => p.value)).toEqual(['north', 'south', 'a\\%\\_b%']);
  });

  it('reads merging ClickHouse tables with FINAL and pages as LIMIT offset, n', () => {
    const q = render('clickhouse', { minRevenue: '10', day: ['2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z'] });
    expect(q.rows).toBe(
      'SELECT `id`, `order_region`, `order_revenue` FROM `shop`.`orders` FINAL WHERE `order_revenue` >= ? AND `create_time` BETWEEN ? AND ? ' +
        'ORDER BY `order_revenue` DESC, `id`, `order_region` LIMIT 0, 10',
    );
  });

  it("gives DuckDB's LIKE the backslash escape it lacks by default and quotes with double quotes", () => {
    const q = render('duckdb', { customer: 'x' });
    expect(q.rows).toContain(`"customer_name" LIKE ? ESCAPE '\\'`);
    expect(q.rows).toContain('FROM "shop"."orders" WHERE');
  });

  it('fetches one row past the cap when unpaged, so a cut can be seen', () => {
    const unpaged = WizardDefinitionSchema.parse({ ...def, pagination: false });
    const request = bindRequest(unpaged, { query: {} }, 'mysql', limits);
    const compiled = compileWizard(unpaged, request, 'mysql', { readFinal: false, maxRows: 2000 });
    expect(compiled.count).toBeUndefined();
    expect(compiled.fetchRows).toBe(2001);
    expect(compiled.rows.render(() => '?')).toMatch(/LIMIT 2001 OFFSET 0$/);
  });
});
