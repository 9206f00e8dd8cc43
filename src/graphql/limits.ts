import type { ApolloServerPlugin } from '@apollo/server';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { GraphQLError, parse, visit, type DocumentNode, type GraphQLSchema, type ValidationContext, type ValidationRule } from 'graphql';
import { getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config.js';

/** The `extensions.code` of an operation refused for its size (the shared enum's QUERY_TOO_COMPLEX). */
export const TOO_COMPLEX = 'QUERY_TOO_COMPLEX';

/** Most directives an operation may carry: more is only ever a way to make the server work. */
const MAX_DIRECTIVES = 50;

/** The arguments that say how many rows a field answers. */
const PAGE_ARGS = ['first', 'last', 'pageSize'] as const;

/**
 * Validation rules that refuse an operation before it runs: too deep, too
 * many aliases, too many directives. Each refusal is reported as a
 * validation error with `extensions.code` QUERY_TOO_COMPLEX, so the whole
 * operation is answered with errors and nothing executes.
 */
export function limitRules(limits: Config['graphql']): ValidationRule[] {
  // Report instead of throwing: a thrown error would escape validation as an internal failure.
  const report = { propagateOnRejection: false, exposeLimits: true, onReject: [refuse] };
  return [
    knownOperationTypeRule,
    maxDepthRule({ n: limits.maxDepth, ...report }),
    maxAliasesRule({ n: limits.maxAliases, ...report }),
    maxDirectivesRule({ n: MAX_DIRECTIVES, ...report }),
  ];
}

/**
 * An operation of a type the schema does not have (`mutation { x }` on this read-only API) is the client's
 * mistake: graphql-js 16 only finds out while executing, and reports it as an internal error.
 */
const knownOperationTypeRule: ValidationRule = (context) => ({
  OperationDefinition(node) {
    const schema = context.getSchema();
    const root = node.operation === 'mutation' ? schema.getMutationType() : node.operation === 'subscription' ? schema.getSubscriptionType() : schema.getQueryType();
    if (root === null || root === undefined) {
      context.reportError(new GraphQLError(`this API has no ${node.operation} operations (rollgate's GraphQL API is read-only)`, { nodes: node }));
    }
  },
});

/** Deeper than this, `variables` are no input any schema here takes, and walking them costs stack. */
export const MAX_VARIABLE_DEPTH = 32;

/** How deeply `value` nests (objects and arrays), counted without recursion so no input can exhaust the stack. */
export function nestingDepth(value: unknown, stopAt = MAX_VARIABLE_DEPTH + 1): number {
  let deepest = 0;
  const pending: Array<[unknown, number]> = [[value, 0]];
  while (pending.length > 0) {
    const [node, depth] = pending.pop() as [unknown, number];
    if (typeof node !== 'object' || node === null) continue;
    if (depth + 1 > deepest) deepest = depth + 1;
    if (deepest >= stopAt) return deepest;
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
  return deepest;
}

function refuse(context: ValidationContext | null, error: GraphQLError): void {
  // graphql-armor words its refusals as syntax errors; they are limits.
  const message = error.message.replace(/^Syntax Error: /, '');
  context?.reportError(new GraphQLError(message, { extensions: { code: TOO_COMPLEX } }));
}

/**
 * A field that pages answers up to `first`, `last` or `pageSize` rows (the
 * default page size when none is given; beyond the maximum page size the
 * resolver refuses anyway, so no more is counted): each row costs what its
 * selection costs. Other fields fall through to the next estimator.
 */
export function pageEstimator(page: { defaultPageSize: number; maxPageSize: number }): ComplexityEstimator {
  return ({ field, args, childComplexity }) => {
    if (!field.args.some((a) => (PAGE_ARGS as readonly string[]).includes(a.name))) return undefined;
    const asked = PAGE_ARGS.map((name) => args[name]).find((v): v is number => typeof v === 'number');
    const rows = Math.max(0, Math.min(asked ?? page.defaultPageSize, page.maxPageSize));
    return 1 + rows * childComplexity;
  };
}

/** The cost of an operation with its variables: every field 1, a paging field its rows times its selection. */
export function operationCost(options: Omit<Parameters<typeof getComplexity>[0], 'estimators'>, page: { defaultPageSize: number; maxPageSize: number }): number {
  return getComplexity({ ...options, estimators: [pageEstimator(page), simpleEstimator({ defaultComplexity: 1 })] });
}

/**
 * Refuses an operation whose cost exceeds GRAPHQL_MAX_COST once its
 * variables are known (page sizes often come in variables), before it runs.
 */
export function costLimitPlugin(maxCost: number, page: { defaultPageSize: number; maxPageSize: number }): ApolloServerPlugin {
  // The cost depends on the schema, the document, the operation and the variables only. Apollo hands every
  // repeat of a query the same parsed document (its document store, renewed with the schema), so the cost of
  // each is remembered per document object: recomputing it walked the whole document on every request.
  const costs = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, LRUCache<string, number>>>();
  const remembered = (schema: GraphQLSchema, document: DocumentNode) => {
    let bySchema = costs.get(schema);
    if (bySchema === undefined) costs.set(schema, (bySchema = new WeakMap()));
    let byDocument = bySchema.get(document);
    if (byDocument === undefined) bySchema.set(document, (byDocument = new LRUCache<string, number>({ max: 64 })));
    return byDocument;
  };
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, schema }) {
          const variables = request.variables ?? {};
          const key = JSON.stringify([request.operationName ?? null, variables]);
          const known = remembered(schema, document);
          let cost = known.get(key);
          if (cost === undefined) {
            try {
              cost = operationCost({ schema, query: document, variables, ...(request.operationName === undefined ? {} : { operationName: request.operationName }) }, page);
            } catch {
              // Variables that do not fit: execution reports that with its own error.
              cost = Number.NaN;
            }
            known.set(key, cost);
          }
          if (cost > maxCost) {
            throw new GraphQLError(`the operation costs ${cost}, more than the limit of ${maxCost} (fields, times the rows of each page)`, {
              extensions: { code: TOO_COMPLEX, http: { status: 400 } },
            });
          }
        },
      };
    },
  };
}

/** Field selections in a document, fragments counted once where they are defined. */
export function fieldCount(document: DocumentNode): number {
  let fields = 0;
  visit(document, {
    Field: () => {
      fields += 1;
    },
  });
  return fields;
}

/**
 * Why a document with more than `maxFields` field selections must be refused
 * before validation: graphql-js compares every pair of same-named fields in
 * a selection set (OverlappingFieldsCanBeMerged), and 10,000 copies of one
 * field held this machine's event loop for 48 s. Counting is linear. Apollo
 * offers no hook before validation that can refuse a request (a thrown error
 * there is a 500), so the HTTP layer asks this first.
 */
export function tooManyFields(source: string, limits: Pick<Config['graphql'], 'maxFields' | 'maxTokens'>): GraphQLError | undefined {
  let document: DocumentNode;
  try {
    document = parse(source, { maxTokens: limits.maxTokens, noLocation: true });
  } catch {
    // Apollo parses it again and answers the syntax error (or the token limit) itself.
    return undefined;
  }
  const fields = fieldCount(document);
  if (fields <= limits.maxFields) return undefined;
  return new GraphQLError(`the document selects ${fields} fields, more than the limit of ${limits.maxFields}`, { extensions: { code: TOO_COMPLEX } });
}

/**
 * tooManyFields with its answer remembered per document text, as Apollo remembers parsed documents: the
 * same few operations arrive again and again, and this parse ran on every request before Apollo's cache.
 * Texts over 64 KiB are counted every time rather than held.
 */
export function fieldLimit(limits: Pick<Config['graphql'], 'maxFields' | 'maxTokens'>): (source: string) => GraphQLError | undefined {
  const answers = new LRUCache<string, { refusal: GraphQLError | undefined }>({
    maxSize: 4 * 1024 * 1024,
    maxEntrySize: 64 * 1024,
    sizeCalculation: (_answer, source) => Math.max(1, source.length),
  });
  return (source) => {
    let answer = answers.get(source);
    if (answer === undefined) {
      answer = { refusal: tooManyFields(source, limits) };
      answers.set(source, answer);
    }
    return answer.refusal;
  };
}

/** graphql-js' own refusal of a document with more tokens than `maxTokens` (a parse error). */
export function isTokenLimitError(message: string): boolean {
  // graphql 16 words it "more that N tokens".
  return /^Syntax Error: Document contains more tha[nt] \d+ tokens/.test(message);
}
