// Preloaded into an aggregator by bench/memory.ts (node --expose-gc --import):
// on SIGUSR2 it collects garbage twice and prints the process's memory on one
// line, so the bench reads what live state holds rather than garbage not yet
// collected. Nothing in src/ knows about it.
import process from 'node:process';

process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  process.stdout.write(`bench-memory ${JSON.stringify(process.memoryUsage())}\n`);
});
