import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/** The CLI as users meet it: help for every command, and a progress bar for the demo's backfill on a terminal. */
const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = `${root}bin/rollgate.js`;
const run = promisify(execFile);

async function help(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [bin, ...args, '--help'], { cwd: root });
  return stdout;
}

describe('rollgate --help', () => {
  it('lists every command, and each command explains itself and its options', async () => {
    const top = await help();
    const commands = [...top.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    expect(commands).toEqual(expect.arrayContaining(['serve', 'aggregate', 'flows', 'demo', 'cdc', 'monitor-sink', 'orders-generator']));
    for (const command of commands) {
      const text = await help(command);
      expect(text, command).toMatch(new RegExp(`^Usage: rollgate ${command}\\b`));
      // A description line after the usage line, and -h among the options.
      expect(text.split('\n')[2]?.trim().length, command).toBeGreaterThan(10);
      expect(text, command).toContain('-h, --help');
    }
  });
});

describe('rollgate demo on a terminal', () => {
  it('draws a progress bar for the backfill, up to 100 %', async () => {
    // `script` gives the child a pseudo-terminal, so stderr is a TTY as in a user's shell.
    const child = spawn('script', ['-qfec', `${process.execPath} ${bin} demo --series 20 --backfill-hours 6 --interval-seconds 5`, '/dev/null'], {
      cwd: root,
      env: { ...process.env, PORT: '0', LOG_LEVEL: 'error', KAFKA_BROKERS: '', CLICKHOUSE_URL: '', MYSQL_URL: '', REDIS_URL: '' },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no complete progress bar:\n${output}`)), 90_000);
        child.stdout.on('data', () => {
          if (/demo backfill \[[^\]]+\] 100% \| 86420\/86420 events/.test(output)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    } finally {
      child.kill('SIGTERM');
    }
    expect(output).toMatch(/rollgate is listening on http/);
  });
});
