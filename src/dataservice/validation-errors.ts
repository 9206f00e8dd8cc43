import type { z } from 'zod';
import { invalidParameter } from '../errors.js';

/**
 * Parses an admin request body with its schema; the first problem becomes an
 * INVALID_PARAMETER naming the field by its path (`requestParams[2].operator`).
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue === undefined ? '(body)' : fieldPath(issue.path);
  const message = issue === undefined ? 'invalid body' : issue.message;
  throw invalidParameter(field, `${field}: ${message}`);
}

export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return '(body)';
  return path.reduce<string>((out, part) => (typeof part === 'number' ? `${out}[${part}]` : out === '' ? String(part) : `${out}.${String(part)}`), '');
}
