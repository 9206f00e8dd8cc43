import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RollgateClient } from '../../sdk/src/index.js';
import { TEST_APP, TEST_APP_ENV } from '../helpers/gateway.js';
import { startRollgate, type RollgateProcess } from '../helpers/rollgate-process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The SDK as a user meets it: `rollgate demo` running, the guide's example
 * script run against it, and the built package (sdk/dist) bundled for the
 * browser and driven in headless Chromium, where only fetch and WebCrypto exist.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let demo: RollgateProcess;
let base: string;
let browser: Browser | undefined;

beforeAll(async () => {
  demo = startRollgate(['demo'], { ...TEST_APP_ENV });
  base = await demo.url(60_000);
  const client = new RollgateClient({ baseUrl: base, auth: { type: 'appCode', appCode: TEST_APP.appCode } });
  // The backfill (about 50 series over two hours) is in once every series has 24 windows.
  await waitFor('the demo backfill', async () => ((await client.page('cpu-mem-5min', { pageSize: 1 })).totalNum >= 50 * 24 ? true : undefined), 60_000, 500);
});

afterAll(async () => {
  await browser?.close();
  await demo?.stop('SIGINT');
});

describe('SDK against the demo gateway', () => {
  it('sdk/examples/quickstart.ts runs to the end with the credentials the demo was started with', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'sdk/examples/quickstart.ts'], {
      cwd: root,
      env: { ...process.env, ...TEST_APP_ENV, ROLLGATE_URL: base },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, output).toBe(0);
    expect(output).toMatch(/cpu-mem-5min holds \d+ rows/);
    expect(output).toMatch(/signed call: \d+ closed windows/);
    expect(output).toContain('graphql: ');
    expect(output).toContain('typed error: INVALID_PARAMETER (1400, HTTP 400)');
  });

  it('the typed rows of the built-in APIs have exactly the fields the demo gateway answers', async () => {
    const client = new RollgateClient({ baseUrl: base, auth: { type: 'appCode', appCode: TEST_APP.appCode } });
    // Each list is the fields of the row interface in sdk/src/apis.ts: a field renamed on either side fails here.
    const keys = (row: object | undefined) => Object.keys(row ?? {}).sort();
    const windowed = ['window_start', 'final'];
    const cpu = (await client.page('cpu-mem-5min', { pageSize: 1 })).rows[0];
    expect(keys(cpu)).toEqual([...windowed, 'ip', 'pid', 'mem', 'cpu_usage_pct', 'mem_usage_pct', 'samples'].sort());
    const from = new Date(Date.now() - 3_600_000);
    expect(keys((await client.page('cpu-mem-top-hosts', { from, pageSize: 1 })).rows[0])).toEqual(['ip', 'max_cpu_usage_pct', 'max_mem_usage_pct', 'max_mem', 'processes'].sort());
    const trend = await client.page('cpu-mem-host-trend', { ip: cpu?.ip ?? '', from });
    expect(keys(trend.rows[0])).toEqual(['window_start', 'max_cpu_usage_pct', 'max_mem_usage_pct', 'max_mem'].sort());
    const procTotals = await waitFor('proc-totals-5min rows', async () => (await client.page('proc-totals-5min', { pageSize: 1 })).rows[0], 30_000, 500);
    expect(keys(procTotals)).toEqual([...windowed, 'ip', 'pid', 'samples', 'cpu_pct_sum', 'mem_res_sum', 'cpu_pct_min', 'mem_usage_pct_avg'].sort());
    const totals = await waitFor('region totals', async () => (await client.page('region-order-totals')).rows[0], 30_000, 500);
    expect(keys(totals)).toEqual(['order_region', 'order_cnt', 'order_total_revenue'].sort());
    expect(keys((await client.page('region-order-trend')).rows[0])).toEqual(['window_start', 'order_region', 'order_cnt', 'order_total_revenue'].sort());
  });

  it('the built package runs in Chromium: AppCode, a WebCrypto signature, a JWT, paging and GraphQL', async () => {
    // The published entry point (sdk/dist/index.js, from `npm run build`), bundled as a browser would get it.
    const bundle = await build({
      entryPoints: [`${root}sdk/dist/index.js`],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      globalName: 'RollgateSdk',
      write: false,
      logLevel: 'silent',
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    const page = await browser.newPage();
    // Same origin as the gateway (no CORS), and http://127.0.0.1 is a secure context, so crypto.subtle exists.
    await page.goto(`${base}/healthz`);
    await page.addScriptTag({ content: bundle.outputFiles[0]?.text ?? '' });
    const result = await page.evaluate(
      async ({ baseUrl, app }) => {
        type Sdk = typeof import('../../sdk/src/index.js');
        const sdk = (globalThis as unknown as { RollgateSdk: Sdk }).RollgateSdk;
        const byCode = new sdk.RollgateClient({ baseUrl, auth: { type: 'appCode', appCode: app.appCode } });
        const signed = new sdk.RollgateClient({ baseUrl, auth: { type: 'signature', appKey: app.appKey, appSecret: app.appSecret } });
        const byJwt = new sdk.RollgateClient({ baseUrl, auth: { type: 'jwt', credentials: { type: 'appCode', appCode: app.appCode } } });
        const first = await byCode.page('cpu-mem-5min', { pageSize: 1 });
        const ip = first.rows[0]?.ip ?? '';
        let walked = 0;
        for await (const _row of signed.rows('cpu-mem-5min', { ip, pageSize: 30, to: first.rows[0]?.window_start })) walked += 1;
        const sameQuery = await signed.page('cpu-mem-5min', { ip, pageSize: 1, to: first.rows[0]?.window_start });
        const gql = await byJwt.graphql(sdk.CpuMemRollupsDocument, { filter: { ip }, pageSize: 2 });
        const signedGql = await signed.graphql(sdk.RegionOrderTotalsDocument, {});
        let error = '';
        try {
          await byCode.call('cpu-mem-5min', { pid: 'x' });
        } catch (err) {
          error = err instanceof sdk.RollgateApiError ? `${err.code}:${err.errCode}` : String(err);
        }
        return {
          node: typeof (globalThis as { process?: unknown }).process !== 'undefined',
          secure: (globalThis as unknown as { isSecureContext: boolean }).isSecureContext,
          walked,
          expected: sameQuery.totalNum,
          gqlRows: gql.cpuMemRollups.rows.length,
          gqlIp: gql.cpuMemRollups.rows[0]?.ip,
          regions: Array.isArray(signedGql.regionOrderTotals),
          error,
          ip,
        };
      },
      { baseUrl: base, app: TEST_APP },
    );
    expect(result.node).toBe(false);
    expect(result.secure).toBe(true);
    expect(result.walked).toBeGreaterThan(30);
    expect(result.walked).toBe(result.expected);
    expect(result.gqlRows).toBe(2);
    expect(result.gqlIp).toBe(result.ip);
    expect(result.regions).toBe(true);
    expect(result.error).toBe('INVALID_PARAMETER:1400');
  });
});
