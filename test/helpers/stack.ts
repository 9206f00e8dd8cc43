/**
 * The real services, as `scripts/stack.sh up` exports them. `npm test` starts
 * the stack and sets these; running an integration file on its own needs
 * `eval "$(scripts/stack.sh up)"` first.
 */
export interface StackEnv {
  KAFKA_BROKERS: string;
  CLICKHOUSE_URL: string;
  MYSQL_URL: string;
  REDIS_URL: string;
}

export function stackEnv(): StackEnv {
  const names = ['KAFKA_BROKERS', 'CLICKHOUSE_URL', 'MYSQL_URL', 'REDIS_URL'] as const;
  const missing = names.filter((n) => !process.env[n]);
  if (missing.length > 0) {
    throw new Error(`integration tests need ${missing.join(', ')}: run them with \`npm test\`, or eval "$(scripts/stack.sh up)" first`);
  }
  return Object.fromEntries(names.map((n) => [n, process.env[n]!])) as unknown as StackEnv;
}
