import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { init, use, type ECharts, type EChartsCoreOption } from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { hostLine, pointCount, regionTotalsBar, regionTrendBars, topHostsBar } from './charts.js';
import type { RollgateClient } from '../../../sdk/src/index.js';
import type { TokenProvider } from '../../../sdk/src/index.js';
import { startLive, type LiveFeed } from './live.js';
import { answered, dashboardClient, openSession, signIn as signInWith } from './session.js';

use([LineChart, BarChart, GridComponent, TooltipComponent, LegendComponent, CanvasRenderer]);

/**
 * Milliseconds between polls while nothing pushes updates (doubled up to a minute while the gateway is
 * unreachable), and while subscriptions push (a safety net: pushes come only for the picked host and the regions).
 */
const POLL_MS = 5_000;
const LIVE_POLL_MS = 30_000;
/** Pushes arrive every aggregator flush; a burst of them is one refresh. */
const PUSH_DEBOUNCE_MS = 300;
const MAX_BACKOFF_MS = 60_000;
const TOP_N = 10;
const HOSTS_LISTED = 50;

const base = window.location.origin;
let gateway: RollgateClient;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const hostPicker = $<HTMLSelectElement>('host');
const rangePicker = $<HTMLSelectElement>('range');
const status = $<HTMLDivElement>('status');

type ChartName = 'host-cpu' | 'host-mem' | 'top-hosts' | 'region-totals' | 'region-trend';
const charts = new Map<ChartName, ECharts>();
for (const name of ['host-cpu', 'host-mem', 'top-hosts', 'region-totals', 'region-trend'] as const) {
  charts.set(name, init($(`chart-${name}`), undefined, { renderer: 'canvas' }));
}
window.addEventListener('resize', () => charts.forEach((c) => c.resize()));

/** Draws an option, and says on the element what it drew: a state and a point count, for people (CSS) and tests. */
function draw(name: ChartName, option: EChartsCoreOption): void {
  const points = pointCount(option);
  charts.get(name)?.setOption(option, { notMerge: true });
  const el = $(`chart-${name}`);
  el.dataset.state = points === 0 ? 'empty' : 'ok';
  el.dataset.points = String(points);
  el.dataset.updated = new Date().toISOString();
}

/** A chart whose data could not be read keeps what it drew last; with nothing drawn yet it says why. */
function failed(name: ChartName, err: unknown): void {
  const el = $(`chart-${name}`);
  if (el.dataset.state === 'ok') return;
  el.dataset.state = 'error';
  el.dataset.error = err instanceof Error ? err.message : String(err);
}

function setStatus(state: 'connecting' | 'polling' | 'live' | 'offline', text: string): void {
  status.dataset.state = state;
  status.textContent = text;
}

let selectedHost: string | undefined;
let live: LiveFeed | undefined;
let pushing = false;

async function refresh(): Promise<boolean> {
  const hours = Number(rangePicker.value);
  const now = Date.now();
  const range = { from: now - hours * 3_600_000, to: now + 5 * 60_000 };
  const from = new Date(range.from).toISOString();
  const top = gateway.page('cpu-mem-top-hosts', { from, pageSize: HOSTS_LISTED });
  const totals = gateway.page('region-order-totals', {});
  const trend = gateway.page('region-order-trend', { from });
  const results = await Promise.allSettled([
    top.then(async ({ rows }) => {
      draw('top-hosts', topHostsBar(rows.slice(0, TOP_N)));
      updateHostPicker(rows.map((r) => r.ip));
      const host = selectedHost;
      if (host === undefined) {
        draw('host-cpu', hostLine([], 'cpu', range));
        draw('host-mem', hostLine([], 'mem', range));
        return;
      }
      const series = await gateway.page('cpu-mem-host-trend', { ip: host, from });
      draw('host-cpu', hostLine(series.rows, 'cpu', range));
      draw('host-mem', hostLine(series.rows, 'mem', range));
    }),
    totals.then(({ rows }) => draw('region-totals', regionTotalsBar(rows))),
    trend.then(({ rows }) => draw('region-trend', regionTrendBars(rows, range))),
  ]);
  const names: ChartName[][] = [['top-hosts', 'host-cpu', 'host-mem'], ['region-totals'], ['region-trend']];
  results.forEach((r, i) => {
    if (r.status === 'rejected') for (const name of names[i] ?? []) failed(name, r.reason);
  });
  const reached = results.some((r) => r.status === 'fulfilled' || answered(r.reason));
  const time = new Date().toLocaleTimeString();
  if (!reached) return false;
  setStatus(pushing ? 'live' : 'polling', `${pushing ? 'live' : 'polling'} · updated ${time}`);
  return true;
}

function updateHostPicker(hosts: string[]): void {
  const sorted = [...hosts].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  if (selectedHost === undefined || !sorted.includes(selectedHost)) pickHost(hosts[0]);
  const current = [...hostPicker.options].map((o) => o.value).join(',');
  if (current !== sorted.join(',')) {
    hostPicker.replaceChildren(...sorted.map((h) => new Option(h, h)));
  }
  if (selectedHost !== undefined) hostPicker.value = selectedHost;
  document.querySelectorAll('.host-name').forEach((el) => (el.textContent = selectedHost ?? 'no host yet'));
}

// Polling, with backoff while the gateway cannot be reached; a push (or a control change) refreshes at once.
let timer: number | undefined;
let backoff = POLL_MS;
/** The last refresh reached the gateway. */
let reachable = true;
let running: Promise<void> | undefined;
/** A push or a control change during a refresh may be newer than what that refresh read: refresh once more after it. */
let changedWhileRunning = false;

function refreshSoon(delayMs: number): void {
  if (running !== undefined) changedWhileRunning = true;
  else schedule(delayMs);
}

function schedule(ms: number): void {
  if (timer !== undefined) window.clearTimeout(timer);
  timer = window.setTimeout(() => void tick(), ms);
}

async function tick(): Promise<void> {
  if (running !== undefined) return running;
  running = (async () => {
    try {
      const ok = await refresh();
      // The first retry after a loss comes soon: doubling the 30 s live poll would
      // leave the page saying "connection lost" for a minute after the network is back.
      backoff = ok ? (pushing ? LIVE_POLL_MS : POLL_MS) : reachable ? POLL_MS : Math.min(backoff * 2, MAX_BACKOFF_MS);
      reachable = ok;
      if (!ok) setStatus('offline', `connection lost · retrying in ${Math.round(backoff / 1000)} s`);
    } catch {
      backoff = reachable ? POLL_MS : Math.min(backoff * 2, MAX_BACKOFF_MS);
      reachable = false;
      setStatus('offline', `connection lost · retrying in ${Math.round(backoff / 1000)} s`);
    } finally {
      running = undefined;
      schedule(changedWhileRunning ? PUSH_DEBOUNCE_MS : backoff);
      changedWhileRunning = false;
    }
  })();
  return running;
}

function pickHost(ip: string | undefined): void {
  if (ip === selectedHost) return;
  selectedHost = ip;
  live?.watchHost(ip);
}

hostPicker.addEventListener('change', () => {
  pickHost(hostPicker.value);
  refreshSoon(0);
});
rangePicker.addEventListener('change', () => refreshSoon(0));

/** Pushes refresh at once (a burst once); a lost socket falls back to polling every few seconds. */
function goLive(token: TokenProvider): void {
  live = startLive({
    url: `${base.replace(/^http/, 'ws')}/graphql`,
    token,
    onUpdate: () => refreshSoon(PUSH_DEBOUNCE_MS),
    onConnected: (connected) => {
      pushing = connected;
      if (!connected) schedule(POLL_MS);
    },
  });
  live.watchHost(selectedHost);
}

async function signIn(): Promise<TokenProvider> {
  const session = await openSession(base).catch(() => undefined);
  if (session !== undefined) {
    gateway = dashboardClient(base, session);
    return session;
  }
  const dialog = $<HTMLDialogElement>('sign-in');
  const form = $<HTMLFormElement>('sign-in-form');
  const error = $<HTMLParagraphElement>('sign-in-error');
  dialog.showModal();
  return new Promise<TokenProvider>((resolve) => {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        const token = await signInWith(base, $<HTMLInputElement>('app-code').value.trim());
        gateway = dashboardClient(base, token);
        dialog.close();
        resolve(token);
      } catch (err) {
        error.textContent = err instanceof Error ? err.message : String(err);
      }
    });
  });
}

// The browser knows at once when its network goes or comes back; an open
// subscription socket may not notice for a long while, and the live poll is 30 s.
// Before sign-in there is nothing to refresh yet; the first tick follows it.
let signedIn = false;
window.addEventListener('offline', () => {
  if (signedIn) refreshSoon(0);
});
window.addEventListener('online', () => {
  backoff = POLL_MS;
  if (signedIn) refreshSoon(0);
});

setStatus('connecting', 'connecting…');
void signIn().then((token) => {
  signedIn = true;
  goLive(token);
  return tick();
});
