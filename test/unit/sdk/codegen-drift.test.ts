import { readFile } from 'node:fs/promises';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config, { generatedFile } from '../../../sdk/codegen.js';

describe('SDK typed GraphQL operations', () => {
  it('are what graphql-codegen makes of schema/schema.graphql and sdk/src/operations (run `npm run codegen` after either changes)', async () => {
    const outputs: Array<{ filename: string; content: string }> = await generate({ ...config, silent: true }, false);
    expect(outputs.map((o) => o.filename)).toEqual([generatedFile]);
    expect(await readFile(generatedFile, 'utf8'), 'sdk/src/generated/graphql.ts is stale').toBe(outputs[0]?.content);
  }, 60_000);
});
