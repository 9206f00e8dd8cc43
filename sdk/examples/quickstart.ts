/**
 * The SDK against a running gateway, e.g. `npm start`'s demo:
 *
 *   export ROLLGATE_BOOTSTRAP_APP_KEY=demo-app-key ROLLGATE_BOOTSTRAP_APP_SECRET=demo-app-secret-0123456789 ROLLGATE_BOOTSTRAP_APP_CODE=demo-app-code-0123456789
 *   npm start                                  # in one shell: the demo creates that app
 *   npx tsx sdk/examples/quickstart.ts         # in another, with the same three variables
 *
 * ROLLGATE_URL names another gateway (default http://127.0.0.1:4000). In your
 * own code, import from '@rollgate/sdk' instead of '../src/index.js'.
 */
import { CpuMemRollupsDocument, RegionOrderTotalsDocument, RollgateApiError, RollgateClient } from '../src/index.js';

const baseUrl = process.env['ROLLGATE_URL'] ?? 'http://127.0.0.1:4000';
const appKey = process.env['ROLLGATE_BOOTSTRAP_APP_KEY'];
const appSecret = process.env['ROLLGATE_BOOTSTRAP_APP_SECRET'];
const appCode = process.env['ROLLGATE_BOOTSTRAP_APP_CODE'];
if (appKey === undefined || appSecret === undefined || appCode === undefined) {
  console.error('set ROLLGATE_BOOTSTRAP_APP_KEY, ROLLGATE_BOOTSTRAP_APP_SECRET and ROLLGATE_BOOTSTRAP_APP_CODE (the app the gateway was started with)');
  process.exit(2);
}

// 1. AppCode: the simplest credential. One page, then every row of one host through the page iterator.
const byCode = new RollgateClient({ baseUrl, auth: { type: 'appCode', appCode } });
const first = await byCode.page('cpu-mem-5min', { pageSize: 1 });
console.log(`cpu-mem-5min holds ${first.totalNum} rows`);
const ip = first.rows[0]?.ip;
if (ip === undefined) {
  console.error('no rollups yet: wait for the demo to write its first windows');
  process.exit(1);
}
let rows = 0;
let hottest = { cpu: -1, at: '' };
for await (const row of byCode.rows('cpu-mem-5min', { ip, pageSize: 200 })) {
  rows += 1;
  if (row.cpu_usage_pct > hottest.cpu) hottest = { cpu: row.cpu_usage_pct, at: row.window_start };
}
console.log(`${ip}: ${rows} windows, highest CPU ${hottest.cpu}% in the window starting ${hottest.at}`);

// 2. AppKey/AppSecret: every request signed (a server-side credential; never ship the secret to a browser).
const signed = new RollgateClient({ baseUrl, auth: { type: 'signature', appKey, appSecret } });
const closed = await signed.page('cpu-mem-5min', { ip, final: true, pageSize: 3 });
console.log(`signed call: ${closed.totalNum} closed windows for ${ip}`);

// 3. A JWT from /auth/token (what a browser dashboard uses), then typed GraphQL operations.
const byToken = new RollgateClient({ baseUrl, auth: { type: 'jwt', credentials: { type: 'appCode', appCode } } });
const latest = await byToken.graphql(CpuMemRollupsDocument, { filter: { ip }, pageSize: 2 });
for (const r of latest.cpuMemRollups.rows) console.log(`graphql: ${r.windowStart} pid ${r.pid} cpu ${r.cpuUsagePct}% final=${r.final}`);
const regions = await byToken.graphql(RegionOrderTotalsDocument, {});
for (const r of regions.regionOrderTotals.slice(0, 5)) console.log(`graphql: region ${r.region}: ${r.orderCnt} orders, ${r.orderTotalRevenueDecimal}`);

// 4. Failures are typed: the gateway's errCode, its name, the HTTP status and the request id.
try {
  await byCode.call('cpu-mem-5min', { pageSize: 0 });
} catch (err) {
  if (!(err instanceof RollgateApiError)) throw err;
  console.log(`typed error: ${err.code} (${err.errCode}, HTTP ${err.httpStatus}): ${err.message}`);
}
