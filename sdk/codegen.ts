import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed GraphQL operations for the SDK: the checked-in schema plus the
 * operation documents in src/operations. `npm run codegen` rewrites
 * src/generated/graphql.ts; a unit test fails when it is stale.
 *
 * documentMode "string" keeps each operation a plain string (TypedDocumentString),
 * so the browser bundle needs no graphql-js to print a document AST.
 */
/** Paths from this file's folder, so `npm run codegen` works from the root and from sdk/, and a test can run it too. */
const here = (path: string) => decodeURIComponent(new URL(path, import.meta.url).pathname);

export const generatedFile = here('src/generated/graphql.ts');

const config: CodegenConfig = {
  schema: here('../schema/schema.graphql'),
  documents: [here('src/operations/*.graphql')],
  generates: {
    [generatedFile]: {
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        documentMode: 'string',
        enumsAsTypes: true,
        useTypeImports: true,
        avoidOptionals: false,
        scalars: { DateTimeISO: 'string', SafeInt: 'number', JSONObject: 'Record<string, unknown>' },
        strictScalars: true,
      },
    },
  },
};

export default config;
