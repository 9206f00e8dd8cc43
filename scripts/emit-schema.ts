// Writes the generated files under schema/ (GraphQL SDL, ClickHouse DDL, event JSON Schemas).
import 'reflect-metadata';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedSchemaFiles } from '../src/schema-files.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const [path, content] of await generatedSchemaFiles()) {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
  process.stdout.write(`wrote ${path}\n`);
}
