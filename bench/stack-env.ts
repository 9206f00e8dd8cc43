import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Benchmarks run on the real stack that scripts/stack.sh brings up, like the tests. */
export const root = fileURLToPath(new URL('..', import.meta.url));
const stackScript = path.join(root, 'scripts', 'stack.sh');

/** Runs scripts/stack.sh; resolves with its stdout, rejects with the tail of its stderr. */
export function stackSh(args: string[], echoStderr: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [stackScript, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (echoStderr) process.stderr.write(d);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`stack.sh ${args.join(' ')} exited with ${code}:\n${err.split('\n').slice(-15).join('\n')}`));
    });
  });
}

/** Exports the stack's KAFKA_BROKERS, CLICKHOUSE_URL, MYSQL_URL and REDIS_URL, bringing it up when they are unset. */
export async function ensureStackEnv(say: (line: string) => void): Promise<void> {
  const names = ['KAFKA_BROKERS', 'CLICKHOUSE_URL', 'MYSQL_URL', 'REDIS_URL'];
  if (names.every((n) => process.env[n])) return;
  say('KAFKA_BROKERS etc. unset: scripts/stack.sh up');
  const out = await stackSh(['up'], true);
  for (const line of out.split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) process.env[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
  }
}

/** Writes bench/results/<file>, the JSON that BENCHMARKS.md summarises. */
export function writeResults(file: string, doc: Record<string, unknown>): void {
  const out = path.join(root, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, file), `${JSON.stringify(doc, null, 2)}\n`);
}
