/**
 * Query speed of a rollup page, at fixed concurrency, on the real stack:
 *
 *   rest-uncached   GET /api/cpu-mem-5min (result cache off)    the DataService path: bind, compile, rows + total
 *   rest-cached     the same URL with the cache on              after the first call every answer is a hit
 *   graphql         cpuMemRollups, same page, cache off         the same API through GraphQL
 *   clickhouse      the page's rows query, straight to ClickHouse's HTTP interface (the baseline)
 *   node-proxy      bench/node-proxy.mjs: a bare node:http server relaying that query over undici, the
 *                   floor of any Node gateway here (no auth, rate limit, binding or logging)
 *   raw-group-by    the same answer computed from the raw events with GROUP BY (what rollups replace)
 *
 * The data: RAW_ROWS raw samples (10M by default) generated inside ClickHouse,
 * and their 5-minute rollup in the cpu_mem_5min table the aggregator would have
 * written. Two gateways run as separate processes (cache off, cache on);
 * autocannon drives each target for SECONDS, RUNS times, and the medians are
 * reported with their spread and as ratios against the direct ClickHouse query
 * of the same run. Latency percentiles come from every 2xx response's exact
 * time (autocannon's own are whole milliseconds). Load generator, gateway and ClickHouse share this machine's
 * cores; that is the setup a ratio cancels best.
 *
 *   npm run bench:query -- [--rows=10000000] [--seconds=5] [--runs=3] [--connections=8] [--warmup=5] [--cpu-prof] [--baseline=DIR]
 *
 * --warmup drives every gateway target for that many seconds before the measured rounds (0: none).
 *
 * --baseline=DIR also runs an uncached gateway from DIR, another checkout built with `npm run build`
 * (e.g. `git archive <rev> | tar -x -C DIR`, node_modules linked), and drives its REST and GraphQL
 * targets in the same rounds: a change's effect on the gateway's CPU per request, measured side by
 * side on the same machine load, which two separate runs on shared cores cannot give.
 *
 * Writes bench/results/query.json (query-c<N>.json at other than 8 connections).
 */
import { createClient } from '@clickhouse/client';
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuMem5min } from '../aggregators/cpu-mem-5min.js';
import { ClickHouseStore } from '../src/store/clickhouse-store.js';
import { startRollgate, type RollgateProcess } from '../test/helpers/rollgate-process.js';
import { ensureStackEnv, root, writeResults } from './stack-env.js';

const { values: opts } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    seconds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    connections: { type: 'string', default: '8' },
    'cpu-prof': { type: 'boolean', default: false },
    baseline: { type: 'string' },
    warmup: { type: 'string', default: '5' },
  },
});
const RAW_ROWS = Number(opts.rows);
const SECONDS = Number(opts.seconds);
const RUNS = Number(opts.runs);
const CONNECTIONS = Number(opts.connections);
const WARMUP_SECONDS = Number(opts.warmup);
const resultsFile = CONNECTIONS === 8 ? 'query.json' : `query-c${CONNECTIONS}.json`;
const SERIES = 1000;
const STEP_S = 6;
const say = (line: string) => process.stdout.write(`${line}\n`);

interface Sample {
  reqPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  /** The gateway's CPU (user + system) per request in this phase, where a gateway serves the target. */
  gatewayCpuMsPerReq?: number;
  /** The system (kernel) part of it: socket reads and writes to the client, ClickHouse and Redis. */
  gatewaySysMsPerReq?: number;
}

/**
 * CPU time a process has used so far, in ms, from /proc/<pid>/stat (utime + stime, in clock ticks of
 * 10 ms: `getconf CLK_TCK` is 100 on Linux). Undefined where /proc is absent. A phase of a few seconds
 * at hundreds of req/s makes the tick's resolution negligible per request.
 */
function processCpuMs(pid: number | undefined): { total: number; sys: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces, so split after its closing parenthesis).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(fields[11]) * 10;
    const sys = Number(fields[12]) * 10;
    return { total: user + sys, sys };
  } catch {
    return undefined;
  }
}
/** bench/node-proxy.mjs serving `sql`: the floor of a Node gateway (see that file). Resolves with its URL. */
async function startNodeProxy(clickhouseUrl: string, sql: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [path.join(root, 'bench', 'node-proxy.mjs')], {
    cwd: root,
    env: { ...process.env, CLICKHOUSE_URL: clickhouseUrl, SQL: sql },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  return { child, url: `http://127.0.0.1:${chunk.toString().trim()}/` };
}

const BENCH_ADMIN_TOKEN = 'bench-query-admin-token-0123456789';
const BENCH_APP = { appKey: 'bench-query-app', appSecret: 'bench-query-secret-0123456789', appCode: 'bench-query-code-0123456789' };

/** The benchmark measures serving, not the per-app limit (each gateway here has its own embedded catalog). */
async function liftRateLimit(base: string): Promise<void> {
  const res = await fetch(`${base}/admin/apps/${BENCH_APP.appKey}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ rateLimit: { rps: 100_000, burst: 100_000 } }),
  });
  if (!res.ok) throw new Error(`could not lift the bench app's rate limit: ${res.status} ${await res.text()}`);
}

interface Target {
  name: string;
  url: string;
  method?: 'GET' | 'POST';
  body?: string;
  headers?: Record<string, string>;
  /** The gateway process serving the target, whose CPU per request is measured. */
  gateway?: RollgateProcess;
  /** Another serving process whose CPU per request is measured (the bare Node proxy). */
  pid?: number;
}

async function drive(target: Target, seconds = SECONDS): Promise<Sample> {
  const pid = target.pid ?? target.gateway?.child.pid;
  const cpuBefore = processCpuMs(pid);
  // autocannon's own percentiles are whole milliseconds (its histogram's lowest discernible value is 1 ms),
  // too coarse for a ratio of two p50s of a few ms; the exact response times come with its 'response' event.
  const times: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.url,
        method: target.method ?? 'GET',
        connections: CONNECTIONS,
        duration: seconds,
        ...(target.body === undefined ? {} : { body: target.body }),
        ...(target.headers === undefined ? {} : { headers: target.headers }),
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) times.push(responseTime);
    });
  });
  const sample: Sample = {
    reqPerSec: result.requests.average,
    p50: percentile(times, 0.5),
    p99: percentile(times, 0.99),
    errors: result.errors + result.non2xx + result.timeouts,
  };
  const cpuAfter = processCpuMs(pid);
  return cpuBefore === undefined || cpuAfter === undefined || result.requests.total === 0
    ? sample
    : {
        ...sample,
        gatewayCpuMsPerReq: (cpuAfter.total - cpuBefore.total) / result.requests.total,
        gatewaySysMsPerReq: (cpuAfter.sys - cpuBefore.sys) / result.requests.total,
      };
}

/** The nearest-rank percentile, in ms with 0.01 ms precision; NaN without samples. */
function percentile(xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = Float64Array.from(xs).sort();
  const value = sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return Math.round(value * 100) / 100;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const spread = (xs: number[]) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;

async function main(): Promise<void> {
  await ensureStackEnv(say);
  const clickhouseUrl = process.env['CLICKHOUSE_URL']!;
  const database = `bench_query_${Date.now().toString(36)}`;
  const ch = createClient({ url: clickhouseUrl, request_timeout: 600_000 });
  const gateways: RollgateProcess[] = [];
  let proxy: { child: ChildProcess; url: string } | undefined;
  try {
    say(`generating ${RAW_ROWS.toLocaleString('en')} raw samples for ${SERIES} series in ClickHouse database ${database}`);
    await ch.command({ query: `CREATE DATABASE ${database}` });
    await ch.command({
      query: `CREATE TABLE ${database}.raw_system_proc (ts DateTime, ip String, pid UInt32, cpu_usage_pct Float64, mem_usage_pct Float64, mem_res UInt64)
              ENGINE = MergeTree() PARTITION BY toYYYYMMDD(ts) ORDER BY ts`,
    });
    const start = Math.floor(Date.now() / 1000 / 86_400) * 86_400 - Math.ceil((RAW_ROWS / SERIES) * STEP_S / 86_400) * 86_400;
    await ch.command({
      query: `INSERT INTO ${database}.raw_system_proc
              SELECT toDateTime(${start} + intDiv(number, ${SERIES}) * ${STEP_S}) AS ts,
                     concat('10.0.', toString(intDiv(number % ${SERIES}, 250)), '.', toString(number % 250)) AS ip,
                     toUInt32(1000 + number % ${SERIES}) AS pid,
                     (cityHash64(number) % 10000) / 100 AS cpu_usage_pct,
                     (cityHash64(number, 1) % 10000) / 100 AS mem_usage_pct,
                     cityHash64(number, 2) % 8589934592 AS mem_res
              FROM system.numbers LIMIT ${RAW_ROWS}`,
    });
    // Merged before timing: the 10M-row insert leaves many parts, and the background merges that follow it
    // made the raw GROUP BY slow (and the rollup's lead large) only in the first seconds of a run.
    await ch.command({ query: `OPTIMIZE TABLE ${database}.raw_system_proc FINAL` });
    const store = new ClickHouseStore({ url: clickhouseUrl, database, user: 'default', password: '' });
    await store.ensureTable(cpuMem5min);
    await store.close();
    await ch.command({
      query: `INSERT INTO ${database}.cpu_mem_5min
              SELECT toStartOfFiveMinute(ts) AS window_start, ip, pid, max(mem_res) AS mem, max(cpu_usage_pct), max(mem_usage_pct),
                     count() AS samples, 1 AS final, 2 * count() + 1 AS version
              FROM ${database}.raw_system_proc GROUP BY window_start, ip, pid`,
    });
    await ch.command({ query: `OPTIMIZE TABLE ${database}.cpu_mem_5min FINAL` });

    const ip = '10.0.1.7';
    // Calls authenticate as a bootstrap app (AppCode), as a dashboard would; its rate limit is lifted below.
    const env = {
      CLICKHOUSE_URL: clickhouseUrl,
      CLICKHOUSE_DATABASE: database,
      REDIS_URL: process.env['REDIS_URL']!,
      LOG_LEVEL: 'warn',
      ROLLGATE_ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
      ROLLGATE_BOOTSTRAP_APP_KEY: BENCH_APP.appKey,
      ROLLGATE_BOOTSTRAP_APP_SECRET: BENCH_APP.appSecret,
      ROLLGATE_BOOTSTRAP_APP_CODE: BENCH_APP.appCode,
    };
    // --cpu-prof profiles the uncached gateway (REST and GraphQL) into bench/profiles/.
    const profile = opts['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${path.join(root, 'bench', 'profiles')}`] : [];
    const uncached = startRollgate(['serve'], { ...env, CACHE_TTL_MS: '0', CACHE_ROLLUP_TTL_MS: '0', CACHE_L1_TTL_MS: '0' }, profile);
    const cached = startRollgate(['serve'], env);
    gateways.push(uncached, cached);
    const baseline = opts.baseline === undefined ? undefined : startRollgate(['serve'], { ...env, CACHE_TTL_MS: '0', CACHE_ROLLUP_TTL_MS: '0', CACHE_L1_TTL_MS: '0' }, [], path.resolve(opts.baseline));
    if (baseline !== undefined) gateways.push(baseline);
    const [plain, caching, before] = await Promise.all([uncached.url(), cached.url(), baseline?.url()]);
    await Promise.all([plain, caching, before].flatMap((base) => (base === undefined ? [] : [liftRateLimit(base)])));
    const auth = { authorization: `APPCODE ${BENCH_APP.appCode}` };
    const page = `ip=${ip}&pageSize=20`;
    const rowsSql = `SELECT window_start, ip, pid, mem, cpu_usage_pct, mem_usage_pct, samples, final FROM ${database}.cpu_mem_5min FINAL
                     WHERE ip = '${ip}' ORDER BY window_start DESC, ip, pid LIMIT 0, 20 FORMAT JSON`;
    const rawSql = `SELECT toStartOfFiveMinute(ts) AS window_start, ip, pid, max(mem_res) AS mem, max(cpu_usage_pct) AS cpu, max(mem_usage_pct) AS memp,
                    count() AS samples FROM ${database}.raw_system_proc WHERE ip = '${ip}' GROUP BY window_start, ip, pid
                    ORDER BY window_start DESC, ip, pid LIMIT 0, 20 FORMAT JSON`;
    const graphql = JSON.stringify({
      query: `{ cpuMemRollups(filter: { ip: "${ip}" }, pageSize: 20) { totalNum rows { windowStart ip pid mem cpuUsagePct memUsagePct samples final } } }`,
    });
    const restTarget = (base: string, gateway: RollgateProcess): Omit<Target, 'name'> => ({ url: `${base}/api/cpu-mem-5min?${page}`, headers: auth, gateway });
    const graphqlTarget = (base: string, gateway: RollgateProcess): Omit<Target, 'name'> => ({
      url: `${base}/graphql`,
      method: 'POST',
      body: graphql,
      headers: { 'content-type': 'application/json', ...auth },
      gateway,
    });
    // A baseline's targets run right after their counterparts, so both see the same load.
    const compared = baseline !== undefined && before !== undefined;
    proxy = await startNodeProxy(clickhouseUrl, rowsSql);
    const targets: Target[] = [
      { name: 'clickhouse', url: `${clickhouseUrl}/?query=${encodeURIComponent(rowsSql)}` },
      { name: 'node-proxy', url: proxy.url, ...(proxy.child.pid === undefined ? {} : { pid: proxy.child.pid }) },
      { name: 'rest-uncached', ...restTarget(plain, uncached) },
      ...(compared ? [{ name: 'rest-baseline', ...restTarget(before, baseline) }] : []),
      { name: 'rest-cached', ...restTarget(caching, cached) },
      { name: 'graphql', ...graphqlTarget(plain, uncached) },
      ...(compared ? [{ name: 'graphql-baseline', ...graphqlTarget(before, baseline) }] : []),
      { name: 'raw-group-by', url: `${clickhouseUrl}/?query=${encodeURIComponent(rawSql)}` },
    ];
    // Warm every path once (connections, the cache's first miss, ClickHouse's marks).
    for (const t of targets) await fetch(t.url, { method: t.method ?? 'GET', ...(t.body === undefined ? {} : { body: t.body }), ...(t.headers === undefined ? {} : { headers: t.headers }) });
    // And each gateway's paths under load, unrecorded: V8 compiles the hot code in its first thousands of calls,
    // on its own threads. Without this the first round measured the JIT too (in two runs the uncached gateway's CPU
    // per request fell ~40 % from round 1 to round 3).
    for (const t of targets) if ((t.gateway !== undefined || t.pid !== undefined) && WARMUP_SECONDS > 0) await drive(t, WARMUP_SECONDS);

    const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]));
    for (let run = 1; run <= RUNS; run++) {
      // Interleaved, so drift in the machine's load hits every target alike.
      for (const t of targets) {
        const s = await drive(t);
        samples.get(t.name)!.push(s);
        const cpu = s.gatewayCpuMsPerReq === undefined ? '' : `  gateway CPU ${s.gatewayCpuMsPerReq.toFixed(2)} ms/req (kernel ${s.gatewaySysMsPerReq?.toFixed(2)})`;
        say(`run ${run}/${RUNS} ${t.name.padEnd(14)} ${s.reqPerSec.toFixed(0).padStart(7)} req/s  p50 ${s.p50} ms  p99 ${s.p99} ms${cpu}${s.errors > 0 ? `  errors ${s.errors}` : ''}`);
      }
    }

    const summary = targets.map((t) => {
      const xs = samples.get(t.name)!;
      const cpu = xs.flatMap((x) => (x.gatewayCpuMsPerReq === undefined ? [] : [x.gatewayCpuMsPerReq]));
      const sys = xs.flatMap((x) => (x.gatewaySysMsPerReq === undefined ? [] : [x.gatewaySysMsPerReq]));
      return {
        target: t.name,
        reqPerSec: median(xs.map((x) => x.reqPerSec)),
        reqPerSecSpread: spread(xs.map((x) => x.reqPerSec)),
        p50Ms: median(xs.map((x) => x.p50)),
        p99Ms: median(xs.map((x) => x.p99)),
        errors: xs.reduce((n, x) => n + x.errors, 0),
        ...(cpu.length === 0
          ? {}
          : { gatewayCpuMsPerReq: median(cpu), gatewayCpuMsPerReqSpread: `${Math.min(...cpu).toFixed(2)}–${Math.max(...cpu).toFixed(2)}`, gatewaySysMsPerReq: median(sys) }),
      };
    });
    const by = (name: string) => summary.find((s) => s.target === name)!;
    const ratios = {
      rollupApiVsRawGroupBy_p50: by('raw-group-by').p50Ms / Math.max(by('rest-uncached').p50Ms, 0.01),
      rollupApiVsRawGroupBy_reqPerSec: by('rest-uncached').reqPerSec / by('raw-group-by').reqPerSec,
      restUncachedP50VsClickHouse: by('rest-uncached').p50Ms / Math.max(by('clickhouse').p50Ms, 0.01),
      nodeProxyP50VsClickHouse: by('node-proxy').p50Ms / Math.max(by('clickhouse').p50Ms, 0.01),
      cacheHitVsUncached_reqPerSec: by('rest-cached').reqPerSec / by('rest-uncached').reqPerSec,
      graphqlVsRest_reqPerSec: by('graphql').reqPerSec / by('rest-uncached').reqPerSec,
      ...(baseline === undefined
        ? {}
        : {
            restVsBaseline_cpuPerReq: by('rest-uncached').gatewayCpuMsPerReq! / by('rest-baseline').gatewayCpuMsPerReq!,
            graphqlVsBaseline_cpuPerReq: by('graphql').gatewayCpuMsPerReq! / by('graphql-baseline').gatewayCpuMsPerReq!,
            restBaselineP50VsClickHouse: by('rest-baseline').p50Ms / Math.max(by('clickhouse').p50Ms, 0.01),
          }),
    };

    say('');
    say(`medians of ${RUNS} runs × ${SECONDS} s at ${CONNECTIONS} connections (spread = min–max req/s)`);
    say('target          req/s      spread          p50 ms  p99 ms  errors  gateway CPU ms/req (spread), kernel part');
    for (const s of summary) {
      const cpu = s.gatewayCpuMsPerReq === undefined ? '' : `  ${s.gatewayCpuMsPerReq.toFixed(2)} (${s.gatewayCpuMsPerReqSpread}), ${s.gatewaySysMsPerReq?.toFixed(2)}`;
      say(`${s.target.padEnd(15)} ${s.reqPerSec.toFixed(0).padStart(7)}  ${s.reqPerSecSpread.padEnd(16)} ${String(s.p50Ms).padStart(6)}  ${String(s.p99Ms).padStart(6)}  ${String(s.errors).padStart(6)}${cpu}`);
    }
    say('');
    say(`rollup API vs raw GROUP BY: ${ratios.rollupApiVsRawGroupBy_reqPerSec.toFixed(1)}× the req/s, ${ratios.rollupApiVsRawGroupBy_p50.toFixed(1)}× lower p50 (target ≥ 50×)`);
    say(`uncached REST p50 / direct ClickHouse p50: ${ratios.restUncachedP50VsClickHouse.toFixed(2)} (target ≤ 1.5); the bare Node proxy's: ${ratios.nodeProxyP50VsClickHouse.toFixed(2)}`);
    say(`cache hits vs uncached: ${ratios.cacheHitVsUncached_reqPerSec.toFixed(1)}× the req/s (target ≥ 5×)`);
    say(`GraphQL vs REST (uncached): ${ratios.graphqlVsRest_reqPerSec.toFixed(2)}× the req/s (target ≥ 0.7×)`);
    if (ratios.restVsBaseline_cpuPerReq !== undefined) {
      say(`gateway CPU per request vs the baseline: REST ${ratios.restVsBaseline_cpuPerReq.toFixed(2)}×, GraphQL ${ratios.graphqlVsBaseline_cpuPerReq!.toFixed(2)}×; baseline REST p50 / direct ClickHouse p50: ${ratios.restBaselineP50VsClickHouse!.toFixed(2)}`);
    }

    writeResults(resultsFile, {
      benchmark: 'query',
      date: new Date().toISOString(),
      command: `npm run bench:query -- --rows=${RAW_ROWS} --seconds=${SECONDS} --runs=${RUNS} --connections=${CONNECTIONS} --warmup=${WARMUP_SECONDS}${opts.baseline === undefined ? '' : ' --baseline=…'}`,
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverage: os.loadavg() },
      rawRows: RAW_ROWS,
      summary,
      ratios,
      runs: Object.fromEntries(samples),
    });
    say(`results: bench/results/${resultsFile}`);
  } finally {
    proxy?.child.kill('SIGTERM');
    await Promise.all(gateways.map((g) => g.stop()));
    await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
    await ch.close();
  }
}

await main();
