import { GraphQLError, parse, validate, type GraphQLSchema } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, RollgateError } from '../../../src/errors.js';
import { formatGraphQLError } from '../../../src/graphql/format-error.js';
import { fieldCount, limitRules, operationCost, tooManyFields } from '../../../src/graphql/limits.js';
import { buildGraphQLSchema } from '../../../src/graphql/schema.js';
import { LocalLiveUpdates } from '../../../src/live/live-updates.js';

let schema: GraphQLSchema;
const limits = { maxDepth: 6, maxAliases: 5, maxCost: 40, maxTokens: 1000, maxFields: 100, introspection: true };
const refusals = (query: string) => validate(schema, parse(query), limitRules(limits)).map((e) => [e.extensions['code'], e.message]);

beforeAll(async () => {
  schema = await buildGraphQLSchema({ pubSub: new LocalLiveUpdates().pubSub });
});

describe('limit rules', () => {
  it('let an ordinary query through', () => {
    expect(refusals('{ cpuMemRollups(pageSize: 5) { totalNum rows { ip pid windowStart cpuUsagePct } } }')).toEqual([]);
  });

  it('refuse depth, aliases and directives over the limits as QUERY_TOO_COMPLEX', () => {
    const deep = `{ __type(name: "Query") { ${'fields { type { '.repeat(4)}name${' } }'.repeat(4)} } }`;
    expect(refusals(deep)).toContainEqual(['QUERY_TOO_COMPLEX', expect.stringContaining('depth limit of 6')]);
    const aliases = `{ ${Array.from({ length: 6 }, (_, i) => `a${i}: published { catalogRevision }`).join(' ')} }`;
    expect(refusals(aliases)).toContainEqual(['QUERY_TOO_COMPLEX', expect.stringContaining('Aliases limit of 5')]);
    const directives = `{ published { catalogRevision ${'@include(if: true) '.repeat(60)} } }`;
    expect(refusals(directives).map(([code]) => code)).toContain('QUERY_TOO_COMPLEX');
  });
});

describe('fieldCount', () => {
  it('counts every field selection once, fragments where they are defined', () => {
    expect(fieldCount(parse('{ a b { c d } }'))).toBe(4);
    expect(fieldCount(parse('{ ...F ...F x: a } fragment F on Query { b c }'))).toBe(3);
    expect(fieldCount(parse(`{ published { ${'catalogRevision '.repeat(300)} } }`))).toBe(301);
  });

  it('refuses a document over the field limit before validation, and leaves syntax errors to the parser', () => {
    expect(tooManyFields(`{ published { ${'catalogRevision '.repeat(99)} } }`, limits)).toBeUndefined();
    expect(tooManyFields(`{ published { ${'catalogRevision '.repeat(100)} } }`, limits)?.extensions['code']).toBe('QUERY_TOO_COMPLEX');
    expect(tooManyFields('{ unclosed', limits)).toBeUndefined();
    expect(tooManyFields(`{ ${'a '.repeat(2000)} }`, limits)).toBeUndefined(); // over maxTokens: the parser's own refusal
  });
});

describe('operationCost', () => {
  const page = { defaultPageSize: 50, maxPageSize: 2000 };
  const cost = (query: string, variables: Record<string, unknown> = {}) => operationCost({ schema, query: parse(query), variables }, page);

  it('counts every field once, and a paging field its rows times its selection', () => {
    expect(cost('{ published { catalogRevision } }')).toBe(2);
    // rows { ip pid } is 3 per row; 10 rows, plus the field itself and totalNum.
    expect(cost('{ cpuMemRollups(pageSize: 10) { totalNum rows { ip pid } } }')).toBe(1 + 10 * 4);
    expect(cost('query($n: Int) { cpuMemRollupConnection(first: $n) { edges { node { ip } } } }', { n: 7 })).toBe(1 + 7 * 3);
    // No size given: the default page size.
    expect(cost('{ cpuMemRollupConnection { totalCount } }')).toBe(1 + 50 * 1);
  });

  it('caps a page at the maximum page size (the resolver refuses more) and grows with aliases', () => {
    expect(cost('{ cpuMemRollups(pageSize: 1000000) { rows { ip } } }')).toBe(1 + 2000 * 2);
    const one = cost('{ a0: cpuMemRollups(pageSize: 2000) { rows { ip pid mem } } }');
    const ten = cost(`{ ${Array.from({ length: 10 }, (_, i) => `a${i}: cpuMemRollups(pageSize: 2000) { rows { ip pid mem } }`).join(' ')} }`);
    expect(ten).toBe(10 * one);
  });
});

describe('formatGraphQLError', () => {
  it('gives every error a code of the shared enum and never a stack trace', () => {
    const rollgate = formatGraphQLError({ message: 'x', extensions: { stacktrace: ['at secret.ts:1'] } }, new RollgateError('NOT_GRANTED', 'the app is not granted the API x'));
    expect(rollgate).toEqual({ message: 'the app is not granted the API x', extensions: { code: 'NOT_GRANTED', errCode: ErrorCodes.NOT_GRANTED.errCode } });
    const internal = formatGraphQLError({ message: 'ECONNREFUSED 10.0.0.1:9000 password=hunter2', extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['x'] } }, new Error('boom'));
    expect(internal).toEqual({ message: 'internal error', extensions: { code: 'INTERNAL', errCode: ErrorCodes.INTERNAL.errCode } });
    const validation = formatGraphQLError({ message: 'Cannot query field "x"', extensions: { code: 'GRAPHQL_VALIDATION_FAILED', stacktrace: ['x'] } }, new GraphQLError('Cannot query field "x"'));
    expect(validation.extensions).toEqual({ code: 'INVALID_PARAMETER', errCode: 1400, reason: 'GRAPHQL_VALIDATION_FAILED' });
  });

  it('keeps the limits\' code through Apollo\'s re-wrapping, and the token limit of the parser', () => {
    const limit = new GraphQLError('Query depth limit of 6 exceeded, found 9.', { extensions: { code: 'QUERY_TOO_COMPLEX' } });
    const wrapped = new GraphQLError(limit.message, { originalError: limit, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    expect(formatGraphQLError({ message: limit.message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }, wrapped).extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', errCode: 1422 });
    let tokenError: GraphQLError | undefined;
    try {
      parse(`{ ${'a '.repeat(50)} }`, { maxTokens: 10 });
    } catch (err) {
      tokenError = err as GraphQLError;
    }
    expect(formatGraphQLError({ message: tokenError!.message, extensions: { code: 'GRAPHQL_PARSE_FAILED' } }, tokenError).extensions?.['code']).toBe('QUERY_TOO_COMPLEX');
    expect(formatGraphQLError({ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }, new GraphQLError('PersistedQueryNotFound')).extensions).toEqual({
      code: 'PERSISTED_QUERY_NOT_FOUND',
      errCode: ErrorCodes.PERSISTED_QUERY_NOT_FOUND.errCode,
    });
  });
});
