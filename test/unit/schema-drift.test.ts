import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { generatedSchemaFiles } from '../../src/schema-files.js';

describe('checked-in schema files', () => {
  it('match what the code generates (run `npm run schema` after changing a rollup or the GraphQL types)', async () => {
    const files = await generatedSchemaFiles();
    expect([...files.keys()]).toContain('schema/schema.graphql');
    for (const [path, expected] of files) {
      const actual = await readFile(new URL(`../../${path}`, import.meta.url), 'utf8').catch(() => '(missing)');
      expect(actual, `${path} drifted from the code`).toBe(expected);
    }
  });
});
