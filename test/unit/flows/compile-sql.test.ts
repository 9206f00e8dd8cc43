import { describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../../aggregators/cpu-mem-5min.js';
import { compileRealtimeSql, evaluate, FlowSqlError } from '../../../src/flows/compile-sql.js';

const fields = cpuMem5min.source.fields;
const SEED_SQL = `SELECT max(mem_res) as mem, max(cpu_usage_pct) as cpu_usage_pct,max(mem_usage_pct) as mem_usage_pct,ip,pid
                        FROM 591_system_proc
                      group by ip, pid`;

function refusal(sql: string): FlowSqlError {
  try {
    compileRealtimeSql(sql, fields);
  } catch (err) {
    expect(err).toBeInstanceOf(FlowSqlError);
    expect((err as FlowSqlError).code).toBe('INVALID_FLOW_SQL');
    return err as FlowSqlError;
  }
  throw new Error(`compiled: ${sql}`);
}

describe('compileRealtimeSql', () => {
  it("compiles seed 000's SQL to max measures grouped by ip, pid", () => {
    const c = compileRealtimeSql(SEED_SQL, fields);
    expect(c.from).toBe('591_system_proc');
    expect(c.groupBy).toEqual(['ip', 'pid']);
    expect(c.measures.map((m) => [m.name, m.op, m.field, m.type])).toEqual([
      ['mem', 'max', 'mem_res', 'uint64'],
      ['cpu_usage_pct', 'max', 'cpu_usage_pct', 'float64'],
      ['mem_usage_pct', 'max', 'mem_usage_pct', 'float64'],
    ]);
    expect(c.where).toBeUndefined();
  });

  it('compiles every supported aggregate with its output type', () => {
    const c = compileRealtimeSql('SELECT ip, count(*) AS n, count(pid) AS n2, sum(mem_res) s, avg(cpu_usage_pct) a, min(pid) lo, count(distinct pid) AS pids FROM t GROUP BY ip', fields);
    expect(c.measures.map((m) => [m.name, m.op, m.type])).toEqual([
      ['n', 'count', 'uint64'],
      ['n2', 'count', 'uint64'],
      ['s', 'sum', 'uint64'],
      ['a', 'avg', 'float64'],
      ['lo', 'min', 'uint32'],
      ['pids', 'distinct', 'uint64'],
    ]);
  });

  it('compiles simple WHERE predicates to a filter with SQL semantics', () => {
    const c = compileRealtimeSql("SELECT ip, max(mem_res) AS m FROM t WHERE (pid > 3 AND pid <= 10 OR ip = 'x') AND ip NOT IN ('b', 'c') AND NOT pid = 7 AND ip <> 'z' GROUP BY ip", fields);
    const where = c.where;
    if (where === undefined) throw new Error('no where');
    const rows = [
      { ip: 'a', pid: 5 },
      { ip: 'a', pid: 7 },
      { ip: 'a', pid: 11 },
      { ip: 'x', pid: 11 },
      { ip: 'b', pid: 5 },
      { ip: 'z', pid: 5 },
      { ip: 'a', pid: 3 },
    ];
    const oracle = (r: { ip: string; pid: number }) => ((r.pid > 3 && r.pid <= 10) || r.ip === 'x') && !['b', 'c'].includes(r.ip) && r.pid !== 7 && r.ip !== 'z';
    for (const r of rows) expect(evaluate(where, r)).toBe(oracle(r));
  });

  it('reports a syntax error with its line and column', () => {
    const e = refusal('SELECT max(mem_res) AS m,\n  ip FROM t GROUP BY ip HAVING');
    expect(e.position?.line).toBe(2);
    expect(e.position?.column).toBeGreaterThan(1);
    const e2 = refusal('SELECT max(mem_res AS m FROM t GROUP BY ip');
    expect(e2.position).toEqual({ line: 1, column: expect.any(Number) as number });
  });

  it('names an unknown field and where it is', () => {
    const e = refusal('SELECT ip,\n  max(nope) AS m FROM t GROUP BY ip');
    expect(e.reason).toMatch(/unknown field nope/);
    expect(e.position).toEqual({ line: 2, column: 7 });
  });

  it.each([
    ['SELECT max(mem_res) AS m FROM t', /GROUP BY is required/],
    ['SELECT ip, pid, max(mem_res) AS m FROM t GROUP BY ip', /pid must appear in GROUP BY/],
    ['SELECT ip, max(mem_res) FROM t GROUP BY ip', /needs a name/],
    ['SELECT ip, median(mem_res) AS m FROM t GROUP BY ip', /not supported|only aggregates/],
    ['SELECT ip, max(ip) AS m FROM t GROUP BY ip', /numeric/],
    ['SELECT ip, max(mem_res) AS m FROM t GROUP BY timestamp, ip', /event time/],
    ['SELECT ip, max(mem_res) + 1 AS m FROM t GROUP BY ip', /only aggregates/],
    ['SELECT ip, max(mem_res) AS m FROM a JOIN b ON a.x = b.x GROUP BY ip', /exactly one table/],
    ['SELECT ip, max(mem_res) AS m FROM t GROUP BY ip ORDER BY ip', /ORDER/i],
    ['SELECT ip, max(mem_res) AS m FROM t GROUP BY ip LIMIT 3', /LIMIT/i],
    ['SELECT ip, max(mem_res) AS m FROM t WHERE pid LIKE 3 GROUP BY ip', /LIKE/],
    ["SELECT ip, max(mem_res) AS m FROM t WHERE pid = 'x' GROUP BY ip", /numeric/],
    ['SELECT ip, max(mem_res) AS m FROM t WHERE ip = 3 GROUP BY ip', /string/],
    ['SELECT ip, max(mem_res) AS m FROM t WHERE pid = mem_res GROUP BY ip', /two fields/],
    ['SELECT * FROM t GROUP BY ip', /\*/],
    ['SELECT ip AS host, max(mem_res) AS m FROM t GROUP BY ip', /renamed/],
    ['SELECT ip, max(mem_res) AS ip FROM t GROUP BY ip', /twice/],
    ['DELETE FROM t', /only SELECT/],
    ['SELECT ip, max(mem_res) AS m FROM t GROUP BY ip; SELECT 1', /one statement/],
  ])('refuses %s', (sql, reason) => {
    expect(refusal(sql).reason).toMatch(reason);
  });
});
