import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ident, qualified, sql } from '../../src/core/sql-literal.js';
import { ClickHouseStore } from '../../src/store/clickhouse-store.js';
import { uniqueName } from '../helpers/events.js';
import { appHeaders, TEST_APP_ENV } from '../helpers/gateway.js';
import { startRollgate, type RollgateProcess } from '../helpers/rollgate-process.js';
import { stackEnv } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Seed 003 end to end: a page in headless Debian Chromium loads the built
 * snippet (sdk/dist/monitor.js) and reports to `rollgate serve`'s
 * /monitor/upload from another origin; `rollgate monitor-sink` and `rollgate
 * aggregate web-pv-5min` run as their own processes on the real stack. The
 * events must arrive in ClickHouse's raw table and in the rollup, which must
 * agree with ClickHouse's own GROUP BY over the raw table.
 */
const stack = stackEnv();
const prefix = `${uniqueName('e2e')}.`;
const database = uniqueName('rollgate_e2e');
const APP = 'e2e-shop';
const root = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
// The flags this machine needs (see the README): no sandbox as root, no calls home.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const ch = new ClickHouseStore({ url: stack.CLICKHOUSE_URL, database, user: 'default', password: '' });
let gateway: RollgateProcess;
let aggregator: RollgateProcess;
let sink: RollgateProcess;
let pages: Server;
let pageOrigin: string;
let collector: string;
let browser: Browser;

beforeAll(async () => {
  const snippet = await readFile(`${root}sdk/dist/monitor.js`, 'utf8');
  pages = createServer((req, res) => {
    if (req.url === '/monitor.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(snippet);
      return;
    }
    const params = new URL(req.url ?? '/', 'http://x').searchParams;
    const flush = params.get('flush') ?? '200';
    const page = (params.get('page') ?? 'home').replace(/[^a-z]/g, '');
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><html><body>
<button id="buy">buy</button>
<script src="/monitor.js"></script>
<script>
  const monitor = new RollgateMonitor({ appId: ${JSON.stringify(APP)}, endpoint: ${JSON.stringify(collector)}, pageView: '${page}', flushIntervalMs: ${Number(flush)} });
  document.getElementById('buy').addEventListener('click', () => monitor.sendToAnalytics({ pageId: '${page}', eventType: 'click', args: { button: 'buy' } }));
</script></body></html>`);
  });
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
  pageOrigin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;

  const env = {
    KAFKA_BROKERS: stack.KAFKA_BROKERS,
    CLICKHOUSE_URL: stack.CLICKHOUSE_URL,
    CLICKHOUSE_DATABASE: database,
    REDIS_URL: stack.REDIS_URL,
    MYSQL_URL: stack.MYSQL_URL,
    TOPIC_PREFIX: prefix,
    AGGREGATOR_FLUSH_MS: '500',
    METRICS_PORT: '0',
    MONITOR_ORIGINS: JSON.stringify({ [APP]: [pageOrigin] }),
    ...TEST_APP_ENV,
  };
  sink = startRollgate(['monitor-sink'], env);
  aggregator = startRollgate(['aggregate', 'web-pv-5min'], env);
  gateway = startRollgate(['serve'], env);
  collector = `${await gateway.url()}/monitor/upload`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([gateway?.stop(), aggregator?.stop(), sink?.stop()]);
  await new Promise((resolve) => pages?.close(resolve));
  await ch.command(sql`DROP DATABASE IF EXISTS ${ident(database)}`).catch(() => undefined);
  await ch.close();
});

interface Counted {
  event_type: string;
  n: number;
  visitors: number;
}

describe('browser monitor end to end', () => {
  it('page views and clicks from two visitors reach ClickHouse and the web-pv-5min rollup', async () => {
    // Visitor 1 sends by fetch every 200 ms; visitor 2 queues for a minute and is sent by sendBeacon when it leaves.
    const fetched = await browser.newContext();
    const beaconed = await browser.newContext();
    const p1 = await fetched.newPage();
    await p1.goto(`${pageOrigin}/?flush=200`);
    for (let i = 0; i < 3; i++) await p1.click('#buy');
    const p2 = await beaconed.newPage();
    await p2.goto(`${pageOrigin}/?flush=60000`);
    await p2.click('#buy');
    await p2.waitForTimeout(300);
    await p2.goto('about:blank'); // pagehide: the queued page view and click leave by beacon
    await p1.waitForTimeout(500);

    const raw = qualified(database, 'web_events');
    const counted = await waitFor(
      'the raw events in ClickHouse',
      async () => {
        const rows = await ch.rows<Record<string, unknown>>(
          sql`SELECT event_type, count() AS n, uniqExact(visitor_id) AS visitors FROM ${raw} FINAL WHERE app_id = ${APP} GROUP BY event_type ORDER BY event_type`,
        );
        const out = rows.map((r) => ({ event_type: String(r['event_type']), n: Number(r['n']), visitors: Number(r['visitors']) }));
        return out.reduce((a, r) => a + r.n, 0) >= 6 ? out : undefined;
      },
      60_000,
      500,
    );
    expect(counted).toEqual<Counted[]>([
      { event_type: 'click', n: 4, visitors: 2 },
      { event_type: 'pv', n: 2, visitors: 2 },
    ]);
    const [details] = await ch.rows<Record<string, unknown>>(sql`SELECT any(url) AS url, any(args) AS args, any(ua) AS ua FROM ${raw} WHERE event_type = 'click'`);
    expect(String(details?.['url'])).toMatch(new RegExp(`^${pageOrigin}/\\?flush=`));
    expect(JSON.parse(String(details?.['args']))).toMatchObject({ button: 'buy' });
    expect(String(details?.['ua'])).toContain('Chrome');

    // The rollup (partial rows of the open window) against ClickHouse's own GROUP BY over the raw table.
    const rollup = qualified(database, 'web_pv_5min');
    const oracle = async () =>
      (
        await ch.rows<Record<string, unknown>>(sql`
          SELECT toUInt32(toStartOfFiveMinute(event_time)) AS ws, page_id, event_type, count() AS pv, uniqExact(visitor_id) AS uv
          FROM ${raw} FINAL WHERE app_id = ${APP} GROUP BY ws, page_id, event_type ORDER BY ws, page_id, event_type`)
      ).map((r) => JSON.stringify([Number(r['ws']), r['page_id'], r['event_type'], Number(r['pv']), Number(r['uv'])]));
    const expected = await oracle();
    const rolled = await waitFor(
      'the web-pv-5min rollup to match the raw events',
      async () => {
        const rows = (
          await ch.rows<Record<string, unknown>>(sql`
            SELECT toUInt32(window_start) AS ws, page_id, event_type, pv, uv FROM ${rollup} FINAL WHERE app_id = ${APP} ORDER BY ws, page_id, event_type`)
        ).map((r) => JSON.stringify([Number(r['ws']), r['page_id'], r['event_type'], Number(r['pv']), Number(r['uv'])]));
        return JSON.stringify(rows) === JSON.stringify(expected) ? rows : undefined;
      },
      60_000,
      500,
    );
    expect(rolled).toEqual(expected);

    // And it is served as a built-in DataService API.
    const api = await fetch(`${collector.replace('/monitor/upload', '')}/api/web-pv-5min?app_id=${APP}&event_type=click`, { headers: appHeaders });
    expect(api.status).toBe(200);
    const body = (await api.json()) as { errCode: number; data: { rows: Array<Record<string, unknown>> } };
    expect(body.errCode).toBe(0);
    expect(body.data.rows.reduce((a, r) => a + Number(r['pv']), 0)).toBe(4);
  });

  it('retries an upload the network lost, under the same event ids', async () => {
    const context = await browser.newContext();
    let aborted = 0;
    await context.route(`${collector}**`, async (route) => {
      if (aborted < 2) {
        aborted += 1;
        await route.abort('connectionreset');
      } else {
        await route.continue();
      }
    });
    const page = await context.newPage();
    await page.goto(`${pageOrigin}/?flush=100&page=retry`);
    await page.click('#buy');
    await page.click('#buy');
    const raw = qualified(database, 'web_events');
    const got = await waitFor(
      'the retried events in ClickHouse',
      async () => {
        const [row] = await ch.rows<Record<string, unknown>>(
          sql`SELECT count() AS n, uniqExact(event_id) AS ids FROM ${raw} WHERE app_id = ${APP} AND page_id = 'retry'`,
        );
        return Number(row?.['n']) >= 3 ? { n: Number(row?.['n']), ids: Number(row?.['ids']) } : undefined;
      },
      60_000,
      500,
    );
    expect(aborted).toBe(2);
    expect(got).toEqual({ n: 3, ids: 3 });
    await context.close();
  });

  it('refuses uploads from an origin the app does not allow, so the browser cannot post for it', async () => {
    const res = await fetch(collector, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'http://evil.example' },
      body: JSON.stringify({ appId: APP, pageId: 'home', eventType: 'pv', url: 'http://evil.example/' }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { errCode: number }).errCode).toBe(1403);
  });
});
