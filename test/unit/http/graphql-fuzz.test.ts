import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../../aggregators/cpu-mem-5min.js';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';
import { appHeaders, testGateway } from '../../helpers/gateway.js';

/** Whatever a client sends to /graphql, the answer is a 2xx or 4xx with a coded body, never a 5xx or an INTERNAL error, and the server keeps serving. */
let store: DuckDbStore;
let app: FastifyInstance;

beforeAll(async () => {
  store = await DuckDbStore.open(':memory:');
  await store.ensureTable(cpuMem5min);
  app = await testGateway(store);
});

afterAll(async () => {
  await app.close();
  await store.close();
});

const fragments = [
  '{', '}', '(', ')', '[', ']', ':', '$v', '...', '@include(if: $v)', 'query', 'mutation', 'subscription', 'fragment F on Query',
  'cpuMemRollups', 'cpuMemRollupConnection', 'regionOrderTotals', 'published', 'admin', '__schema', '__type(name: "Query")',
  'first: -1', 'first: 99999999999', 'after: "x"', 'before: "cmcxOg"', 'pageSize: 0', 'filter: { ip: "a" }', 'orderBy: NOPE',
  'edges', 'node', 'rows', 'totalNum', 'ip', 'pid', 'trend', 'a: ', '"\\u0000"', '#', '\u{1F600}', 'catalogRevision',
];
// Well-formed operations with hostile argument values, so execution is reached too.
const value = fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 30 }).map((t) => JSON.stringify(t)), fc.constantFrom('null', 'true', '[]', '{}', '"2026-13-45T99:00:00Z"', '-2147483649'));
const operation = fc
  .tuple(fc.constantFrom('cpuMemRollupConnection', 'regionOrderTrendConnection'), fc.constantFrom('first', 'last', 'after', 'before'), value, fc.constantFrom('pageSize', 'pageNum'), value, value)
  .map(
    ([connection, arg, v, pageArg, pv, filterValue]) =>
      `{ c: ${connection}(${arg}: ${v}) { totalCount edges { cursor } } p: cpuMemRollups(${pageArg}: ${pv}, filter: { ip: ${filterValue} }) { totalNum } published { cpu_mem_5min(pid: ${pv}, from: ${filterValue}) { totalNum } } }`,
  );
const document = fc.oneof(operation, fc.string({ maxLength: 200 }), fc.array(fc.constantFrom(...fragments), { maxLength: 40 }).map((parts) => parts.join(' ')));
const variables = fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 3 }), fc.dictionary(fc.constantFrom('v', 'n', 'first'), fc.jsonValue({ maxDepth: 2 })));

describe('/graphql under arbitrary input', () => {
  it('never answers 5xx or an INTERNAL error', async () => {
    await fc.assert(
      fc.asyncProperty(
        document,
        variables,
        fc.constantFrom('GET', 'POST'),
        fc.constantFrom('application/json', 'application/graphql-response+json', '*/*', 'text/html', undefined),
        fc.constantFrom('application/json', 'text/plain', 'application/graphql', undefined),
        async (query, vars, method, accept, contentType) => {
          const headers: Record<string, string> = { ...appHeaders };
          if (accept !== undefined) headers['accept'] = accept;
          const res =
            method === 'GET'
              ? await app.inject({ method, url: `/graphql?query=${encodeURIComponent(query)}${vars === undefined ? '' : `&variables=${encodeURIComponent(JSON.stringify(vars))}`}`, headers })
              : await app.inject({
                  method,
                  url: '/graphql',
                  headers: { ...headers, ...(contentType === undefined ? {} : { 'content-type': contentType }) },
                  payload: JSON.stringify({ query, ...(vars === undefined ? {} : { variables: vars }) }),
                });
          expect(res.statusCode, `${method} ${query} → ${res.body.slice(0, 300)}`).toBeLessThan(500);
          // A GraphQL answer is 200 even when a field fails: no field may fail as an internal error either.
          const json = String(res.headers['content-type'] ?? '').includes('json');
          const body = (json ? JSON.parse(res.body) : {}) as { errors?: Array<{ extensions?: { code?: string } }> };
          const codes = (body.errors ?? []).map((e) => e.extensions?.code);
          expect(codes, `${method} ${query} → ${res.body.slice(0, 300)}`).not.toContain('INTERNAL');
        },
      ),
      { numRuns: 300 },
    );
    const fine = await app.inject({ method: 'POST', url: '/graphql', headers: appHeaders, payload: { query: '{ cpuMemRollups { totalNum } }' } });
    expect(fine.statusCode).toBe(200);
  });
});
