import { afterAll, describe, expect, it } from 'vitest';
import { startRollgate, type RollgateProcess } from '../helpers/rollgate-process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * What a newcomer gets from `npm start` with nothing configured: the embedded
 * log, DuckDB and cache, the demo producer, the aggregator and the gateway in
 * one process; rollups for the demo series must be served within 30 s.
 */
let demo: RollgateProcess;
afterAll(async () => {
  await demo?.stop('SIGINT');
});

describe('rollgate demo on embedded defaults', () => {
  it('serves the demo series over GraphQL and REST within 30 s, and stops cleanly on Ctrl-C', async () => {
    const started = Date.now();
    demo = startRollgate(['demo'], { LOG_LEVEL: 'info' });
    const base = await demo.url(30_000);
    expect(demo.output()).toContain('embedded DuckDB');
    // The demo makes up an app for the run and prints its credentials, as a newcomer would copy them.
    const appCode = /Authorization: APPCODE (\S+)/.exec(demo.output())?.[1];
    expect(appCode).toBeDefined();
    const auth = { authorization: `APPCODE ${appCode ?? ''}` };
    expect((await fetch(`${base}/api/cpu-mem-5min?pageSize=1`)).status).toBe(401);

    const totalNum = await waitFor(
      'GraphQL rows',
      async () => {
        const res = await fetch(`${base}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...auth },
          body: JSON.stringify({ query: '{ cpuMemRollups(filter: {}, pageSize: 5) { totalNum rows { ip pid final } } }' }),
        });
        const body = (await res.json()) as { data?: { cpuMemRollups: { totalNum: number } } };
        const n = body.data?.cpuMemRollups.totalNum ?? 0;
        // About 50 series and two hours of backfill: at least 24 windows per series.
        return n >= 50 * 24 ? n : undefined;
      },
      30_000,
      250,
    );
    const rest = (await (await fetch(`${base}/api/cpu-mem-5min?pageSize=100`, { headers: auth })).json()) as { data: { totalNum: number } };
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(totalNum).toBeGreaterThanOrEqual(50 * 24);
    expect(rest.data.totalNum).toBeGreaterThanOrEqual(50 * 24);
    // Closed windows are there already, for every series.
    const closed = (await (await fetch(`${base}/api/cpu-mem-5min?pageSize=1000&to=${new Date(started - 600_000).toISOString()}`, { headers: auth })).json()) as {
      data: { rows: Array<{ ip: string; pid: number; final: boolean }> };
    };
    expect(closed.data.rows.every((r) => r.final)).toBe(true);
    expect(new Set(closed.data.rows.map((r) => `${r.ip}:${r.pid}`)).size).toBe(50);

    expect(await demo.stop('SIGINT')).toBe(0);
    expect(demo.output()).toContain('"msg":"stopped"');
  });
});
