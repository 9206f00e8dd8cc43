import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { GraphQLError, type ValidationContext, type ValidationRule } from 'graphql';
import type { Config } from '../config.js';

/** The `extensions.code` of an operation refused for its size (the shared enum's QUERY_TOO_COMPLEX). */
export const TOO_COMPLEX = 'QUERY_TOO_COMPLEX';

/** Most directives an operation may carry: more is only ever a way to make the server work. */
const MAX_DIRECTIVES = 50;

/**
 * Validation rules that refuse an operation before it runs: too deep, too
 * many aliases, too costly (graphql-armor's weights: objects and scalars,
 * growing with depth), too many directives. Each refusal is reported as a
 * validation error with `extensions.code` QUERY_TOO_COMPLEX, so the whole
 * operation is answered with errors and nothing executes.
 */
export function limitRules(limits: Config['graphql']): ValidationRule[] {
  // Report instead of throwing: a thrown error would escape validation as an internal failure.
  const report = { propagateOnRejection: false, exposeLimits: true, onReject: [refuse] };
  return [
    maxDepthRule({ n: limits.maxDepth, ...report }),
    maxAliasesRule({ n: limits.maxAliases, ...report }),
    costLimitRule({ maxCost: limits.maxCost, ...report }),
    maxDirectivesRule({ n: MAX_DIRECTIVES, ...report }),
  ];
}

function refuse(context: ValidationContext | null, error: GraphQLError): void {
  // graphql-armor words its refusals as syntax errors; they are limits.
  const message = error.message.replace(/^Syntax Error: /, '');
  context?.reportError(new GraphQLError(message, { extensions: { code: TOO_COMPLEX } }));
}

/** graphql-js' own refusal of a document with more tokens than `maxTokens` (a parse error). */
export function isTokenLimitError(message: string): boolean {
  // graphql 16 words it "more that N tokens".
  return /^Syntax Error: Document contains more tha[nt] \d+ tokens/.test(message);
}
