import { Redis } from 'ioredis';
import mysql, { type Pool, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { ident, qualified, sql } from '../../src/core/sql-literal.js';
import { KafkaLog } from '../../src/ingest/kafka-log.js';
import type { LogProducer } from '../../src/ingest/topic-log.js';
import { ClickHouseStore } from '../../src/store/clickhouse-store.js';
import { uniqueName } from '../helpers/events.js';
import { silentLogger, TEST_APP, TEST_APP_ENV } from '../helpers/gateway.js';
import { collect, wsClient, type Closed } from '../helpers/graphql-ws.js';
import { startRollgate, type RollgateProcess } from '../helpers/rollgate-process.js';
import { stackEnv } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Subscriptions on the real stack, every part its own process as deployed:
 * events produced to Kafka, `rollgate aggregate cpu-mem-5min` writing to
 * ClickHouse, `rollgate aggregate region-orders` writing to MySQL, and two
 * `rollgate serve` gateways. Aggregators publish over Redis pub/sub, so a
 * graphql-ws subscriber of either gateway receives every update.
 */
const stack = stackEnv();
const prefix = `${uniqueName('subs')}.`;
const database = uniqueName('rollgate_subs');
const mysqlUrl = `${stack.MYSQL_URL.replace(/\/[^/]*$/, '')}/${database}`;
const env = {
  KAFKA_BROKERS: stack.KAFKA_BROKERS,
  CLICKHOUSE_URL: stack.CLICKHOUSE_URL,
  CLICKHOUSE_DATABASE: database,
  REDIS_URL: stack.REDIS_URL,
  MYSQL_URL: mysqlUrl,
  TOPIC_PREFIX: prefix,
  ...TEST_APP_ENV,
  AGGREGATOR_FLUSH_MS: '300',
  METRICS_PORT: '0',
};
const auth = { Authorization: `APPCODE ${TEST_APP.appCode}` };
// A window far from now, so it closes only when the test moves event time past it.
const W0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000 + 10 * 3600_000;
const IP = '10.9.8.7';
const OTHER_IP = '10.9.8.6';

const ch = new ClickHouseStore({ url: stack.CLICKHOUSE_URL, database, user: 'default', password: '' });
const processes: RollgateProcess[] = [];
const clients: Client[] = [];
let gateways: string[] = [];
let log: KafkaLog;
let producer: LogProducer;
let pool: Pool;

interface Window {
  windowStart: string;
  ip: string;
  pid: number;
  cpuUsagePct: number;
  mem: number;
  samples: number;
  final: boolean;
}
interface Total {
  region: string;
  orderCnt: number;
  orderTotalRevenueDecimal: string;
}
const WINDOWS = `subscription($filter: CpuMemFilter) { cpuMemWindows(filter: $filter) { windowStart ip pid cpuUsagePct mem samples final } }`;
const TOTALS = `subscription($region: String) { regionOrderTotalsChanged(region: $region) { region orderCnt orderTotalRevenueDecimal } }`;

function client(base: string, params: Record<string, unknown> | undefined = auth, onClosed?: (closed: Closed) => void): Client {
  const c = wsClient(base, params, onClosed);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  log = new KafkaLog({ brokers: stack.KAFKA_BROKERS.split(','), clientId: 'it-subs' }, silentLogger);
  await log.ensureTopic(`${prefix}system_proc`, 3);
  for (const topic of ['orders', 'customers']) await log.ensureTopic(`${prefix}${topic}`, 1);
  producer = await log.producer();
  pool = mysql.createPool({ uri: stack.MYSQL_URL, connectionLimit: 2 });
  processes.push(startRollgate(['aggregate', 'cpu-mem-5min'], env));
  processes.push(startRollgate(['aggregate', 'region-orders'], env));
  // One after the other: two gateways creating the bootstrap app in a fresh catalog at once can collide on its key.
  const a = startRollgate(['serve'], env);
  processes.push(a);
  const first = await a.url();
  const b = startRollgate(['serve'], env);
  processes.push(b);
  gateways = [first, await b.url()];
});

afterAll(async () => {
  await Promise.all(clients.map((c) => Promise.resolve(c.dispose()).catch(() => undefined)));
  await Promise.all(processes.map((p) => p.stop()));
  await producer?.close();
  await log?.close();
  await ch.command(sql`DROP DATABASE IF EXISTS ${ident(database)}`).catch(() => undefined);
  await ch.close();
  await pool?.query(`DROP DATABASE IF EXISTS \`${database}\``).catch(() => undefined);
  await pool?.end();
});

let sampleNo = 0;
const produced: Array<{ ip: string; cpu: number; mem: number; t: number }> = [];

async function sample(ip: string, t: number): Promise<void> {
  sampleNo += 1;
  const s = { ip, pid: 42, cpu_usage_pct: (sampleNo * 37) % 101, mem_usage_pct: 12.5, mem_res: 1000 + ((sampleNo * 7919) % 5000), timestamp: t };
  produced.push({ ip, cpu: s.cpu_usage_pct, mem: s.mem_res, t });
  await producer.send(`${prefix}system_proc`, [{ key: `${ip}:42`, value: JSON.stringify(s) }]);
}

/**
 * A subscription is set up asynchronously and pub/sub keeps no history, so
 * events are produced until `done` says every subscriber has what it waits for.
 */
async function produceUntil(what: string, produce: () => Promise<void>, done: () => boolean): Promise<void> {
  try {
    await waitFor(
      what,
      async () => {
        if (done()) return true;
        await produce();
        await new Promise((resolve) => setTimeout(resolve, 400));
        return undefined;
      },
      90_000,
      0,
    );
  } catch (err) {
    // What the processes said is what tells why.
    throw new Error(`${String(err)}\n${processes.map((p, i) => `--- process ${i}:\n${p.output().slice(-3000)}`).join('\n')}`);
  }
}

describe('cpuMemWindows through Kafka, the aggregator and ClickHouse', () => {
  it('delivers partial rows of the host asked for on both gateways, as stored in ClickHouse, then the final row', async () => {
    const subs = gateways.map((g) => collect<{ cpuMemWindows: Window[] }>(client(g), WINDOWS, { filter: { ip: IP } }));
    const finals = collect<{ cpuMemWindows: Window[] }>(client(gateways[1]!), WINDOWS, { filter: { ip: IP, finalOnly: true } });
    // Whoever else publishes on the channel cannot break a gateway: malformed messages are dropped.
    const redis = new Redis(stack.REDIS_URL);
    let t = W0 + 1000;
    await produceUntil(
      'a partial row on both gateways',
      async () => {
        await sample(OTHER_IP, t);
        await sample(IP, t);
        t += 1000;
      },
      () => subs.every((s) => s.results.length > 0),
    );

    // Both gateways listen now: junk, then one more sample, which must still arrive.
    for (const junk of ['not json', '{"rollup":1}', '{"rollup":"cpu-mem-5min","rows":[{"windowStart":"x"}]}', '']) {
      await redis.publish(`rollgate:live:${prefix}rollup-rows:cpu-mem-5min`, junk);
    }
    redis.disconnect();
    await sample(IP, t);

    const ours = produced.filter((p) => p.ip === IP);
    for (const sub of subs) {
      for (const result of sub.results) {
        expect(result.errors).toBeUndefined();
        for (const w of result.data!.cpuMemWindows) {
          expect(w).toMatchObject({ windowStart: new Date(W0).toISOString(), ip: IP, pid: 42, final: false });
          // Samples of one key arrive in order: a partial row is the maxima of its first `samples` samples.
          const folded = ours.slice(0, w.samples);
          expect(w.samples).toBeGreaterThan(0);
          expect(w.cpuUsagePct).toBe(Math.max(...folded.map((p) => p.cpu)));
          expect(w.mem).toBe(Math.max(...folded.map((p) => p.mem)));
        }
      }
    }

    // Once every sample is folded, the last row each gateway delivered is the row ClickHouse holds.
    const all = ours.length;
    const last = (s: (typeof subs)[number]) => s.results.at(-1)?.data?.cpuMemWindows.at(-1);
    await waitFor('the rows of every sample on both gateways', async () => (subs.every((s) => last(s)?.samples === all) ? true : undefined), 60_000);
    for (const gateway of [processes[2]!, processes[3]!]) {
      await waitFor('the gateway to log the malformed message', async () => (gateway.output().includes('ignored a malformed live update') ? true : undefined));
    }
    const stored = await ch.rows<Record<string, unknown>>(sql`
      SELECT ip, pid, mem, cpu_usage_pct, samples, final FROM ${qualified(database, 'cpu_mem_5min')} FINAL WHERE ip = ${IP}`);
    expect(stored.map((r) => ({ ip: r['ip'], pid: Number(r['pid']), mem: Number(r['mem']), cpuUsagePct: Number(r['cpu_usage_pct']), samples: Number(r['samples']), final: Number(r['final']) === 1 }))).toEqual([
      { ip: IP, pid: 42, mem: last(subs[0]!)!.mem, cpuUsagePct: last(subs[0]!)!.cpuUsagePct, samples: all, final: false },
    ]);
    const partial = last(subs[0]!)!;
    expect(last(subs[1]!)).toEqual(partial);
    expect(finals.results).toEqual([]);

    // An event past the window's end plus the lateness closes it: the final row goes out.
    await sample(IP, W0 + 300_000 + 61_000);
    const final = await finals.next(1);
    expect(final.data?.cpuMemWindows).toEqual([{ ...partial, final: true }]);
  });
});

const position = { n: 100 };
const pos = () => ({ file: 'mysql-bin.000002', pos: (position.n += 1), row: 0, db: database, snapshot: 'false' });
const customer = (id: number) => ({
  key: JSON.stringify({ id }),
  value: JSON.stringify({ op: 'c', before: null, after: { id, name: 'n', age: 30, gender: 'Male' }, source: pos(), ts_ms: 0, transaction: null }),
});
let orderId = 0;
const orders: Array<{ region: string; cents: number }> = [];
async function order(region: string, cents: number): Promise<void> {
  orderId += 1;
  orders.push({ region, cents });
  const after = { order_id: orderId, order_revenue: cents / 100, order_region: region, customer_id: 1, create_time: new Date(W0).toISOString() };
  await producer.send(`${prefix}orders`, [{ key: JSON.stringify({ order_id: orderId }), value: JSON.stringify({ op: 'c', before: null, after, source: pos(), ts_ms: 0, transaction: null }) }]);
}
const expected = (region: string): Total => {
  const mine = orders.filter((o) => o.region === region);
  return { region, orderCnt: mine.length, orderTotalRevenueDecimal: (mine.reduce((n, o) => n + o.cents, 0) / 100).toFixed(2) };
};

describe('regionOrderTotalsChanged through Kafka, the region-orders aggregator and MySQL', () => {
  it('sends the totals after each change on both gateways, and per region when asked', async () => {
    await producer.send(`${prefix}customers`, [customer(1)]);
    const everyRegion = gateways.map((g) => collect<{ regionOrderTotalsChanged: Total[] }>(client(g), TOTALS));
    const south = collect<{ regionOrderTotalsChanged: Total[] }>(client(gateways[0]!), TOTALS, { region: 'south' });
    await produceUntil('totals on both gateways', () => order('north', 1050), () => everyRegion.every((s) => s.results.length > 0));
    await produceUntil('the south totals', () => order('south', 299), () => south.results.length > 0);

    const latest = (s: (typeof everyRegion)[number]) => s.results.at(-1)?.data?.regionOrderTotalsChanged;
    await waitFor('every order in the totals on both gateways', async () =>
      everyRegion.every((s) => JSON.stringify(latest(s)) === JSON.stringify([expected('north'), expected('south')])) ? true : undefined,
    );
    for (const s of everyRegion) expect(s.results.every((r) => r.errors === undefined)).toBe(true);
    await waitFor('the south totals with every south order', async () => (JSON.stringify(latest(south)) === JSON.stringify([expected('south')]) ? true : undefined));
    // The region filter: only south's totals, and only when south moved (north orders before it sent nothing).
    expect(south.results.every((r) => r.data?.regionOrderTotalsChanged.length === 1 && r.data.regionOrderTotalsChanged[0]!.region === 'south')).toBe(true);
    expect(south.results.length).toBeLessThanOrEqual(orders.filter((o) => o.region === 'south').length);

    // The oracle: MySQL's own totals table as the aggregator committed it.
    const [rows] = await pool.query<RowDataPacket[]>(`SELECT order_region, order_cnt, order_total_revenue FROM \`${database}\`.region_order_totals ORDER BY order_region`);
    expect(rows.map((r) => ({ region: String(r['order_region']), orderCnt: Number(r['order_cnt']), orderTotalRevenueDecimal: Number(r['order_total_revenue']).toFixed(2) }))).toEqual(latest(everyRegion[0]!));
  });
});

describe('auth at connection', () => {
  it('closes a connection with unknown credentials 4401, on each gateway', async () => {
    for (const g of gateways) {
      const closed = await new Promise<Closed>((resolve) => {
        collect(client(g, { Authorization: 'APPCODE wrong-code-0000000000' }, resolve), WINDOWS);
      });
      expect(closed).toEqual({ code: 4401, reason: 'UNAUTHENTICATED: unknown appCode' });
    }
  });
});

describe('shutdown', () => {
  it('a gateway that stops closes its subscribers with 1001 and exits cleanly', async () => {
    const closed = new Promise<Closed>((resolve) => {
      const sub = collect(client(gateways[1]!, auth, resolve), WINDOWS);
      void sub.done.catch(() => undefined);
    });
    // Wait until the connection is acknowledged (the metric counts it), then stop the process.
    await waitFor('the connection to open', async () => {
      const text = await (await fetch(`${gateways[1]}/metrics`)).text();
      return /^rollgate_graphql_ws_connections [1-9]/m.test(text) ? true : undefined;
    });
    expect(await processes[3]!.stop()).toBe(0);
    expect((await closed).code).toBe(1001);
  });
});
