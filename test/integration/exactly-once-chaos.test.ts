import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ChaosStack, buildWorkload, keyed } from '../helpers/chaos.js';
import { seeded } from '../helpers/events.js';
import type { RollgateProcess } from '../helpers/rollgate-process.js';
import { stackEnv } from '../helpers/stack.js';

/**
 * Exactly once under failure, shown by the stores' own GROUP BY: about 200k
 * events over 3 partitions, two rollups (max in ClickHouse; count, sum, min and
 * avg in MySQL), aggregator processes killed with SIGKILL three times, scaled
 * 1 → 3 → 1 (rebalances) and a ClickHouse restart while they work.
 */
const stack = stackEnv();
const chaos = new ChaosStack(stack);
const stackScript = fileURLToPath(new URL('../../scripts/stack.sh', import.meta.url));
const DAY = 86_400_000;
const workload = buildWorkload({
  seed: 11,
  series: 200,
  windows: 10,
  perWindow: 100,
  startMs: Math.floor(Date.now() / DAY) * DAY - DAY + 6 * 3600_000,
});
const random = seeded(99);
const pause = (min: number, max: number) => new Promise((r) => setTimeout(r, min + random() * (max - min)));

afterAll(() => chaos.cleanup(), 60_000);

describe('exactly once through kills, rebalances and a ClickHouse restart', () => {
  it('ends with rollups equal to the ClickHouse and MySQL GROUP BY over every valid event', async () => {
    const { valid, late, bad } = workload;
    expect(valid.length).toBeGreaterThan(190_000);
    await chaos.createTopic(3);
    const quarter = Math.ceil(valid.length / 4);
    const chunks = [0, 1, 2, 3].map((i) => valid.slice(i * quarter, (i + 1) * quarter).map(keyed));
    const rawLoaded = chaos.loadRaw(valid);

    let cpu: RollgateProcess[] = [chaos.aggregator('cpu-mem-5min')];
    let totals: RollgateProcess[] = [chaos.aggregator('proc-totals-5min')];
    await chaos.produce([...chunks[0]!, ...bad.map(({ key, value }) => ({ key, value }))]);

    // Kill 1: the ClickHouse aggregator, mid-stream.
    await pause(1500, 3000);
    await cpu[0]!.stop('SIGKILL');
    cpu = [chaos.aggregator('cpu-mem-5min')];
    await chaos.produce(chunks[1]!);

    // Rebalance 1 → 3 for both rollups.
    cpu.push(chaos.aggregator('cpu-mem-5min'), chaos.aggregator('cpu-mem-5min'));
    totals.push(chaos.aggregator('proc-totals-5min'), chaos.aggregator('proc-totals-5min'));
    await pause(2000, 4000);

    // Kill 2: the MySQL aggregator that held every partition before the rebalance.
    await totals[0]!.stop('SIGKILL');
    totals = totals.slice(1);
    await chaos.produce(chunks[2]!);

    // ClickHouse restarts under the writers.
    execFileSync('bash', [stackScript, 'restart', 'clickhouse'], { stdio: 'ignore' });

    // Rebalance 3 → 1: the extra processes leave cleanly.
    await Promise.all([...cpu.slice(1), ...totals.slice(1)].map((p) => p.stop('SIGTERM')));
    cpu = cpu.slice(0, 1);
    totals = totals.slice(0, 1);
    await chaos.produce(chunks[3]!);

    // Kill 3: the ClickHouse aggregator again, then its replacement finishes the job.
    await pause(500, 1500);
    await cpu[0]!.stop('SIGKILL');
    cpu = [chaos.aggregator('cpu-mem-5min')];
    await chaos.produce(late.map(keyed));
    await rawLoaded;

    // Settle: every valid event folded and every closed window final (or give up and show the difference).
    const expectedFinal = workload.series * workload.windows;
    const settled = async () => {
      const [c, t] = await Promise.all([chaos.cpuMem(), chaos.procTotals()]);
      return c.samples === valid.length && t.samples === valid.length && c.finalRows === expectedFinal && t.finalRows === expectedFinal;
    };
    const deadline = Date.now() + 120_000;
    while (!(await settled().catch(() => false)) && Date.now() < deadline) await pause(1000, 1000);

    const cpuMem = await chaos.cpuMem();
    expect({ samples: cpuMem.samples, finalRows: cpuMem.finalRows }).toEqual({ samples: valid.length, finalRows: expectedFinal });
    expect(cpuMem.oracle).toHaveLength(workload.series * (workload.windows + 1));
    expect(cpuMem.rollup).toEqual(cpuMem.oracle);
    const procTotals = await chaos.procTotals();
    expect({ samples: procTotals.samples, finalRows: procTotals.finalRows }).toEqual({ samples: valid.length, finalRows: expectedFinal });
    expect(procTotals.rollup).toEqual(procTotals.oracle);

    // Every bad and every late message is in the dead-letter topic with its reason
    // (at least once: a kill between a dead letter and its checkpoint repeats it).
    const expectedDead = bad.length + late.length;
    const dead = await chaos.deadLetters(2 * expectedDead);
    for (const b of bad) {
      const letters = dead.filter((d) => d.value === b.value);
      expect(letters.length, `dead letter for ${b.reason}: ${b.value.slice(0, 60)}`).toBeGreaterThanOrEqual(1);
      expect(letters.every((d) => d.code === 'INVALID_EVENT' && d.reason.length > 0)).toBe(true);
    }
    for (const l of late) {
      const letters = dead.filter((d) => d.value === JSON.stringify(l));
      expect(letters.length, `late event ${JSON.stringify(l).slice(0, 60)}`).toBeGreaterThanOrEqual(2); // once per rollup
      expect(letters.every((d) => d.code === 'LATE_EVENT')).toBe(true);
    }
  }, 400_000);
});
