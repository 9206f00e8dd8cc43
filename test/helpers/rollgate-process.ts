import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TEST_AUTH_FAILURES, TEST_MASTER_KEY } from './test-env.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = `${root}bin/rollgate.js`;

/** Variables that would point a child at real services unless a test sets them on purpose. */
const SERVICE_VARS = ['ROLLGATE_MASTER_KEY', 'ROLLGATE_DATA_DIR', 'KAFKA_BROKERS', 'CLICKHOUSE_URL', 'CLICKHOUSE_DATABASE', 'MYSQL_URL', 'REDIS_URL', 'TOPIC_PREFIX', 'PORT'];

export interface RollgateProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the base URL once the gateway prints it. */
  url(timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code when the process ends by itself, or with 'running' after timeoutMs. */
  exit(timeoutMs?: number): Promise<number | null | 'running'>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs the real CLI (`bin/rollgate.js`, compiled by `npm run build`) as a separate process; from another
 * built checkout with `from` (benchmarks compare a baseline revision in the same run).
 */
export function startRollgate(args: string[], env: Record<string, string>, nodeArgs: string[] = [], from = root): RollgateProcess {
  const dir = from.endsWith('/') ? from : `${from}/`;
  if (!existsSync(`${dir}dist/src/cli/main.js`)) throw new Error(`${dir}dist/ is missing: run \`npm run build\` there (npm test does)`);
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !SERVICE_VARS.includes(k)));
  const child = spawn(process.execPath, [...nodeArgs, from === root ? bin : `${dir}bin/rollgate.js`, ...args], {
    cwd: dir,
    env: { ...baseEnv, LOG_FORMAT: 'json', LOG_LEVEL: 'warn', PORT: '0', ROLLGATE_MASTER_KEY: TEST_MASTER_KEY, AUTH_FAILURES_PER_MINUTE: TEST_AUTH_FAILURES, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    url: (timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const started = Date.now();
        const poll = setInterval(() => {
          const match = /listening on (http:\/\/\S+)/.exec(output);
          if (match?.[1] !== undefined) {
            clearInterval(poll);
            resolve(match[1]);
          } else if (child.exitCode !== null || Date.now() - started > timeoutMs) {
            clearInterval(poll);
            reject(new Error(`rollgate ${args.join(' ')} did not start:\n${output}`));
          }
        }, 100);
      }),
    exit: (timeoutMs = 30_000) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'running'>((resolve) => (timer = setTimeout(() => resolve('running'), timeoutMs)));
      return Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
    },
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
