/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ident, sql } from '../../src/core/sql-literal.js';
import { ChangeEventOrderSink } from '../../src/demo/order-change-events.js';
import { randomOrder } from '../../src/demo/orders-generator.js';
import { KafkaLog } from '../../src/ingest/kafka-log.js';
import type { LogProducer } from '../../src/ingest/topic-log.js';
import { ClickHouseStore } from '../../src/store/clickhouse-store.js';
import { procSamples, seeded, uniqueName, type ProcSample } from '../helpers/events.js';
import { appHeaders, TEST_APP, TEST_APP_ENV } from '../helpers/gateway.js';
import { startRollgate, type RollgateProcess } from '../helpers/rollgate-process.js';
import { stackEnv } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The dashboard at / end to end, in headless Debian Chromium: `rollgate serve`,
 * `aggregate cpu-mem-5min` and `aggregate region-orders` run as their own
 * processes on the real stack; metrics go to Kafka as samples, orders as the
 * change events CDC writes. Every chart must draw what the APIs answer, a new
 * host must appear live, and a lost connection must show and heal.
 * Screenshots are saved under test-results/.
 */
const stack = stackEnv();
const prefix = `${uniqueName('dash')}.`;
const database = uniqueName('rollgate_dash');
const mysqlUrl = `${stack.MYSQL_URL.replace(/\/[^/]*$/, '')}/${database}`;
const root = fileURLToPath(new URL('../..', import.meta.url));
const artifacts = `${root}test-results/`;
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const CHARTS = ['host-cpu', 'host-mem', 'top-hosts', 'region-totals', 'region-trend'] as const;

const ch = new ClickHouseStore({ url: stack.CLICKHOUSE_URL, database, user: 'default', password: '' });
const log = new KafkaLog({ brokers: stack.KAFKA_BROKERS.split(','), clientId: 'dashboard-e2e' }, pino({ level: 'silent' }));
let producer: LogProducer;
let processes: RollgateProcess[] = [];
let base: string;
let browser: Browser;

async function sendSamples(samples: readonly ProcSample[]): Promise<void> {
  await producer.send(
    `${prefix}system_proc`,
    samples.map((s) => ({ key: `${s.ip}:${s.pid}`, value: JSON.stringify(s) })),
  );
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${base}/api/${path}`, { headers: appHeaders });
  const body = (await res.json()) as { errCode: number; data: T };
  expect(body.errCode, path).toBe(0);
  return body.data;
}

/** What each chart element says it drew. */
async function chartStates(page: Page): Promise<Record<string, { state?: string; points: number }>> {
  return page.$$eval('.chart', (els) =>
    Object.fromEntries(els.map((e) => [e.id.replace('chart-', ''), { state: (e as HTMLElement).dataset.state, points: Number((e as HTMLElement).dataset.points ?? 0) }])),
  );
}

beforeAll(async () => {
  await mkdir(artifacts, { recursive: true });
  await log.ensureTopic(`${prefix}system_proc`, 3);
  await log.ensureTopic(`${prefix}orders`, 1);
  await log.ensureTopic(`${prefix}customers`, 1);
  producer = await log.producer();

  // Two hours of 12 (ip, pid) series, then 40 orders of seed 002's shape.
  const now = Date.now();
  const start = Math.floor((now - 2 * 3_600_000) / 300_000) * 300_000;
  await sendSamples(procSamples({ seed: 8, series: 12, windows: 24, startMs: start, stepMs: 60_000 }));
  const orders = new ChangeEventOrderSink(producer, prefix);
  await orders.snapshotCustomers();
  const random = seeded(2002);
  await orders.insertOrders(Array.from({ length: 40 }, () => randomOrder(random)));

  const env = {
    KAFKA_BROKERS: stack.KAFKA_BROKERS,
    CLICKHOUSE_URL: stack.CLICKHOUSE_URL,
    CLICKHOUSE_DATABASE: database,
    MYSQL_URL: mysqlUrl,
    REDIS_URL: stack.REDIS_URL,
    TOPIC_PREFIX: prefix,
    AGGREGATOR_FLUSH_MS: '500',
    METRICS_PORT: '0',
    DASHBOARD_APP_KEY: TEST_APP.appKey,
    ...TEST_APP_ENV,
  };
  processes = [startRollgate(['aggregate', 'cpu-mem-5min'], env), startRollgate(['aggregate', 'region-orders'], env), startRollgate(['serve'], env)];
  base = await processes[2]!.url();
  await waitFor('rollups and region totals behind the APIs', async () => {
    const hosts = await fetch(`${base}/api/cpu-mem-top-hosts?from=${new Date(start).toISOString()}`, { headers: appHeaders }).then((r) => r.json());
    const regions = await fetch(`${base}/api/region-order-totals`, { headers: appHeaders }).then((r) => r.json());
    return hosts?.data?.totalNum === 12 && regions?.data?.rows?.length > 0 ? true : undefined;
  }, 90_000, 500);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true });
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(processes.map((p) => p.stop()));
  await producer?.close();
  await log.close();
  await ch.command(sql`DROP DATABASE IF EXISTS ${ident(database)}`).catch(() => undefined);
  await ch.close();
  const { createConnection } = await import('mysql2/promise');
  const conn = await createConnection(stack.MYSQL_URL);
  await conn.query(`DROP DATABASE IF EXISTS \`${database}\``).catch(() => undefined);
  await conn.end();
});

describe('the dashboard at /', () => {
  it('draws every chart from the running system, at 1920x1080 and on a laptop screen', async () => {
    const from = new Date(Date.now() - 3 * 3_600_000).toISOString();
    const hosts = await api<{ totalNum: number; rows: Array<{ ip: string }> }>(`cpu-mem-top-hosts?from=${from}&pageSize=50`);
    const regions = await api<{ rows: unknown[] }>('region-order-totals');
    for (const [width, height] of [
      [1920, 1080],
      [1366, 768],
    ] as const) {
      const page = await browser.newPage({ viewport: { width, height } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${base}/`);
      await page.waitForFunction((names) => names.every((n) => document.getElementById(`chart-${n}`)?.dataset.state === 'ok'), CHARTS, { timeout: 30_000 });
      const states = await chartStates(page);
      // The host picker lists the API's hosts; the top-hosts bars are its first ten; the hottest host is picked.
      const listed = await page.$$eval('#host option', (os) => os.map((o) => (o as HTMLOptionElement).value));
      expect(new Set(listed)).toEqual(new Set(hosts.rows.map((r) => r.ip)));
      expect(await page.inputValue('#host')).toBe(hosts.rows[0]?.ip);
      expect(states['top-hosts']?.points).toBe(Math.min(10, hosts.totalNum));
      expect(states['region-totals']?.points).toBe(Math.min(12, regions.rows.length));
      // The picked host's trend: one point per window of its CPU chart, two series (percent, GiB) on the memory chart.
      const trend = await api<{ rows: unknown[] }>(`cpu-mem-host-trend?ip=${hosts.rows[0]?.ip}&from=${from}`);
      expect(states['host-cpu']?.points).toBe(trend.rows.length);
      expect(states['host-mem']?.points).toBe(2 * trend.rows.length);
      expect(states['region-trend']?.points).toBeGreaterThan(0);
      // Subscriptions connect: the status line says the page is live.
      await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'live', undefined, { timeout: 30_000 });
      expect(await page.textContent('#status')).toMatch(/updated/);
      // Every chart's canvas has pixels drawn (not a blank element).
      for (const name of CHARTS) {
        const drawn = await page.$eval(`#chart-${name} canvas`, (c) => (c as HTMLCanvasElement).toDataURL().length);
        expect(drawn, name).toBeGreaterThan(5_000);
      }
      await page.screenshot({ path: `${artifacts}dashboard-${width}x${height}.png` });
      expect(errors).toEqual([]);
      await page.close();
    }
  });

  it('shows a host that starts reporting while the page is open, and pushes its new windows over the subscription', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    // Every subscription event the page receives, as the raw graphql-ws frames.
    const pushes: string[] = [];
    page.on('websocket', (ws) => ws.on('framereceived', (frame) => pushes.push(String(frame.payload))));
    await page.goto(`${base}/`);
    await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'live', undefined, { timeout: 30_000 });
    expect(await page.$$eval('#host option', (os) => os.map((o) => (o as HTMLOptionElement).value))).not.toContain('10.99.0.1');
    const t = Date.now();
    await sendSamples([{ ip: '10.99.0.1', pid: 4242, cpu_usage_pct: 399.5, mem_usage_pct: 12, mem_res: 123_456_789, timestamp: t }]);
    await page.waitForFunction(() => [...document.querySelectorAll('#host option')].some((o) => (o as HTMLOptionElement).value === '10.99.0.1'), undefined, {
      timeout: 60_000,
    });
    // Picking it draws its one window and subscribes to its windows.
    await page.selectOption('#host', '10.99.0.1');
    await page.waitForFunction(() => document.querySelector('.host-name')?.textContent === '10.99.0.1');
    await page.waitForFunction(() => Number(document.getElementById('chart-host-cpu')?.dataset.points) === 1, undefined, { timeout: 30_000 });
    // A sample in the next window arrives as a push for this host, and the chart gains the window.
    await sendSamples([{ ip: '10.99.0.1', pid: 4242, cpu_usage_pct: 12.5, mem_usage_pct: 12, mem_res: 123_456_789, timestamp: t + 300_000 }]);
    await waitFor('a pushed cpuMemWindows event for 10.99.0.1', async () => (pushes.some((p) => p.includes('"cpuMemWindows"') && p.includes('"next"')) ? true : undefined), 60_000, 200);
    await page.waitForFunction(() => Number(document.getElementById('chart-host-cpu')?.dataset.points) === 2, undefined, { timeout: 60_000 });
    await page.close();
  });

  it('polls when subscriptions cannot connect, and says so', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    await page.routeWebSocket('**/graphql', (ws) => ws.close({ code: 1011, reason: 'blocked by the test' }));
    await page.goto(`${base}/`);
    await page.waitForFunction((names) => names.every((n) => document.getElementById(`chart-${n}`)?.dataset.state === 'ok'), CHARTS, { timeout: 30_000 });
    expect(await page.getAttribute('#status', 'data-state')).toBe('polling');
    const first = await page.getAttribute('#chart-top-hosts', 'data-updated');
    await page.waitForFunction((before) => document.getElementById('chart-top-hosts')?.dataset.updated !== before, first, { timeout: 30_000 });
    expect(await page.getAttribute('#status', 'data-state')).toBe('polling');
    await page.close();
  });

  it('says when the gateway cannot be reached, keeps the last charts, and recovers', async () => {
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await page.waitForFunction(() => ['live', 'polling'].includes(document.getElementById('status')?.dataset.state ?? ''), undefined, { timeout: 30_000 });
    await context.setOffline(true);
    // The page hears the browser go offline and says so at once: without that it only
    // noticed at its next live poll, up to 30 s later, which was as long as this wait.
    await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'offline', undefined, { timeout: 10_000 });
    // The first retry after a loss is the short poll, not double the 30 s live poll.
    expect(await page.textContent('#status')).toMatch(/connection lost · retrying in 5 s/);
    expect(Object.values(await chartStates(page)).every((c) => c.state === 'ok')).toBe(true);
    await page.screenshot({ path: `${artifacts}dashboard-offline.png` });
    await context.setOffline(false);
    await page.waitForFunction(() => ['live', 'polling'].includes(document.getElementById('status')?.dataset.state ?? ''), undefined, { timeout: 30_000 });
    await context.close();
  });

  it('asks for an AppCode where the gateway opens no session, and draws with it', async () => {
    const context = await browser.newContext();
    await context.route('**/dashboard/session', (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{"errCode":1404,"errMsg":"no session","data":null}' }));
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await page.waitForSelector('#sign-in[open]');
    await page.fill('#app-code', 'not-a-code');
    await page.click('#sign-in button');
    await page.waitForFunction(() => (document.getElementById('sign-in-error')?.textContent ?? '').length > 0);
    await page.fill('#app-code', TEST_APP.appCode);
    await page.click('#sign-in button');
    await page.waitForFunction(() => document.getElementById('chart-top-hosts')?.dataset.state === 'ok', undefined, { timeout: 30_000 });
    await context.close();
  });
});
