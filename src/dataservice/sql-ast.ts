/** Reading node-sql-parser's AST, whose typings are loose (`any`, missing fields): as unknown, one step at a time. */
export function prop(node: unknown, key: string): unknown {
  return typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined;
}

/** Visits every object in the tree once (subqueries, CTEs and UNION members included). */
export function walk(root: unknown, visit: (node: object) => void): void {
  const seen = new WeakSet<object>();
  const step = (node: unknown): void => {
    if (typeof node !== 'object' || node === null || seen.has(node)) return;
    seen.add(node);
    visit(node);
    Object.values(node).forEach(step);
  };
  step(root);
}
