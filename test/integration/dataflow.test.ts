import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEventTime } from '../../src/core/event-time.js';
import { KafkaLog } from '../../src/ingest/kafka-log.js';
import { procSamples, uniqueName, type ProcSample } from '../helpers/events.js';
import { seedNodes } from '../helpers/flows.js';
import { appHeaders, silentLogger, TEST_APP, TEST_APP_ENV } from '../helpers/gateway.js';
import { startRollgate, type RollgateProcess } from '../helpers/rollgate-process.js';
import { stackEnv } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Seeds 000 and 001 on the real stack: `rollgate serve` takes the flow calls,
 * two `rollgate flows` workers (started before any flow exists) run what is
 * started, results land in MySQL (tspider_storage) and equal MySQL's own
 * GROUP BY over the same raw events.
 */
const stack = stackEnv();
const BIZ = 591;
const prefix = `${uniqueName('flow')}.`;
const topic = `${prefix}${BIZ}_system_proc`;
const database = uniqueName('rg_flow');
const mysqlUrl = (() => {
  const u = new URL(stack.MYSQL_URL);
  u.pathname = `/${database}`;
  return u.toString();
})();
const TABLE = `cpu_mem_test_5min_${BIZ}`;
const SERIES = 5;
const WINDOWS = 3;
const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000 + 9 * 3600_000;
const batch1 = procSamples({ seed: 11, series: SERIES, windows: WINDOWS, startMs: T0, stepMs: 30_000 });
const batch2 = procSamples({ seed: 12, series: SERIES, windows: 2, startMs: T0 + (WINDOWS + 1) * 300_000, stepMs: 30_000 });

const env = {
  KAFKA_BROKERS: stack.KAFKA_BROKERS,
  MYSQL_URL: mysqlUrl,
  REDIS_URL: stack.REDIS_URL,
  TOPIC_PREFIX: prefix,
  ...TEST_APP_ENV,
  AGGREGATOR_FLUSH_MS: '500',
  METRICS_PORT: '0',
};
const credentials = { bk_app_code: TEST_APP.appKey, bk_app_secret: TEST_APP.appSecret, bkdata_authentication_method: 'user', bk_username: 'alice' };
const query = new URLSearchParams(credentials).toString();

let gateway: RollgateProcess;
const workers: RollgateProcess[] = [];
let base: string;
let db: mysql.Connection;
let log: KafkaLog;
let scratch: string;

interface Envelope {
  result: boolean;
  code: string;
  message: string;
  data: Record<string, unknown> & { task_id?: number; flow_id?: number; node_ids?: number[] };
  errors: { code: string; field: string | null; line?: number; column?: number } | null;
}

async function call(method: string, path: string, body?: Record<string, unknown>): Promise<{ status: number; body: Envelope }> {
  const url = `${base}/dataflow/flow/flows/${path}${method === 'GET' || method === 'DELETE' ? `?${query}` : ''}`;
  const res = await fetch(url, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ ...credentials, ...body }) }),
  });
  return { status: res.status, body: (await res.json()) as Envelope };
}

async function ok(method: string, path: string, body?: Record<string, unknown>): Promise<Envelope['data']> {
  const { status, body: envelope } = await call(method, path, body);
  expect(envelope, `${method} ${path}`).toMatchObject({ result: true, code: '1500200', message: 'ok', errors: null });
  expect(status).toBe(200);
  return envelope.data;
}

async function produce(samples: readonly ProcSample[]): Promise<void> {
  const producer = await log.producer();
  await producer.send(topic, samples.map((s) => ({ key: `${s.ip}:${s.pid}`, value: JSON.stringify(s) })));
  await producer.close();
  // The oracle's input: the same events, raw, in MySQL.
  await db.query('INSERT INTO raw_system_proc (ts, ip, pid, cpu_usage_pct, mem_usage_pct, mem_res) VALUES ?', [
    samples.map((s) => [parseEventTime(s.timestamp), s.ip, s.pid, s.cpu_usage_pct, s.mem_usage_pct, s.mem_res]),
  ]);
}

type Row = [number, string, number, number, number, number];

/** MySQL's own GROUP BY over the raw events, 5-minute windows. */
async function oracle(): Promise<Row[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT FLOOR(ts / 300000) * 300 AS ws, ip, pid, MAX(mem_res) AS mem, MAX(cpu_usage_pct) AS cpu, MAX(mem_usage_pct) AS mempct
     FROM raw_system_proc GROUP BY ws, ip, pid ORDER BY ws, ip, pid`,
  );
  return rows.map((r) => [Number(r['ws']), String(r['ip']), Number(r['pid']), Number(r['mem']), Number(r['cpu']), Number(r['mempct'])]);
}

/**
 * MySQL's GROUP BY over the raw events, each event counted in every window that
 * holds it by definition: `shifts` slot offsets from the event's own 5-minute
 * slot, kept when `keep` (SQL over ws and ts) holds.
 */
async function shiftedOracle(shifts: number[], keep: string): Promise<Row[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT ws, ip, pid, MAX(mem_res) AS mem, MAX(cpu_usage_pct) AS cpu, MAX(mem_usage_pct) AS mempct FROM (
       SELECT FLOOR(r.ts / 300000) * 300 + d.shift * 300 AS ws, r.* FROM raw_system_proc r
       CROSS JOIN (${shifts.map((d) => `SELECT ${d} AS shift`).join(' UNION ALL ')}) d) x
     WHERE ${keep} GROUP BY ws, ip, pid ORDER BY ws, ip, pid`,
  );
  return rows.map((r) => [Number(r['ws']), String(r['ip']), Number(r['pid']), Number(r['mem']), Number(r['cpu']), Number(r['mempct'])]);
}

async function results(table = TABLE): Promise<Row[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', window_start) AS ws, ip, pid, mem, cpu_usage_pct AS cpu, mem_usage_pct AS mempct
     FROM \`${table}\` ORDER BY ws, ip, pid`,
  );
  return rows.map((r) => [Number(r['ws']), String(r['ip']), Number(r['pid']), Number(r['mem']), Number(r['cpu']), Number(r['mempct'])]);
}

async function waitForOracle(what: string, table = TABLE, expectedRows: () => Promise<Row[]> = oracle): Promise<void> {
  const expected = await expectedRows();
  await waitFor(what, async () => (JSON.stringify(await results(table)) === JSON.stringify(expected) ? true : undefined), 90_000, 500);
  expect(await results(table)).toEqual(expected);
}

async function waitForTask(flowId: number, taskId: number): Promise<Record<string, unknown>> {
  return waitFor(`task ${taskId} to finish`, async () => {
    const tasks = (await ok('GET', `${flowId}/tasks/`)) as unknown as Array<Record<string, unknown>>;
    const task = tasks.find((t) => t['task_id'] === taskId);
    return task !== undefined && task['status'] !== 'pending' ? task : undefined;
  });
}

/** A seed 000 script as its user runs it: placeholders filled in, its module-level `return` wrapped in a function. */
async function runSeedScript(name: string, replacements: Array<[string | RegExp, string]>): Promise<Envelope> {
  let script = await readFile(new URL(`../fixtures/seed-000/${name}`, import.meta.url), 'utf8');
  for (const [from, to] of replacements) script = script.replaceAll(from, to);
  const [head, body] = script.split('import requests\n') as [string, string];
  const wrapped = `${head}import requests\ndef main():\n${body.replace(/^/gm, '    ')}\nprint("RESULT " + json.dumps(main()))\n`;
  const file = join(scratch, name);
  await writeFile(file, wrapped);
  const { stdout } = await promisify(execFile)('python3', [file]);
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (line === undefined) throw new Error(`no result from ${name}:\n${stdout}`);
  return JSON.parse(line.slice('RESULT '.length)) as Envelope;
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'rollgate-flow-'));
  const server = await mysql.createConnection(stack.MYSQL_URL);
  await server.query(`CREATE DATABASE \`${database}\``);
  await server.end();
  db = await mysql.createConnection(mysqlUrl);
  await db.query(
    `CREATE TABLE raw_system_proc (ts BIGINT NOT NULL, ip VARCHAR(64) NOT NULL, pid INT UNSIGNED NOT NULL, cpu_usage_pct DOUBLE NOT NULL,
     mem_usage_pct DOUBLE NOT NULL, mem_res BIGINT UNSIGNED NOT NULL)`,
  );
  log = new KafkaLog({ brokers: stack.KAFKA_BROKERS.split(','), clientId: 'it-flows' }, silentLogger);
  await log.ensureTopic(topic, 3);
  gateway = startRollgate(['serve'], env);
  base = await gateway.url();
  // Workers first, with no flow yet: they must pick flows up without a restart.
  workers.push(startRollgate(['flows'], env), startRollgate(['flows'], env));
  await produce(batch1);
});

afterAll(async () => {
  await Promise.all([gateway?.stop(), ...workers.map((w) => w.stop())]);
  await log?.close();
  await db?.query(`DROP DATABASE IF EXISTS \`${database}\``).catch(() => undefined);
  await db?.end();
  await rm(scratch, { recursive: true, force: true });
});

describe('seed 000: the Python script against rollgate', () => {
  let flowId: number;

  it('creates the flow with the script changed only in base URL and credentials', async () => {
    const created = await runSeedScript('create_flow.py', [
      ['http://<BK_PAAS_HOST>/api/c/compapi/data/v3/', `${base}/api/c/compapi/data/v3/`],
      ['<YOUR bk_app_code>', TEST_APP.appKey],
      ['<YOUR bk_app_secret>', TEST_APP.appSecret],
      ['<YOUR bk_username>', 'alice'],
      ['xxx', String(BIZ)],
    ]);
    expect(created).toMatchObject({ result: true, code: '1500200', message: 'ok', errors: null });
    flowId = created.data.flow_id ?? 0;
    expect(flowId).toBeGreaterThan(0);
    expect(created.data.node_ids).toHaveLength(3);
  });

  it('starts it with the second script; rows appear in the storage table and equal MySQL GROUP BY over the raw events', async () => {
    const started = await runSeedScript('start_flow.py', [
      ['http://<BK_PAAS_HOST>/api/c/compapi/data/v3/', `${base}/api/c/compapi/data/v3/`],
      ['flow_id = 1', `flow_id = ${flowId}`],
      ["'data-test'", `'${TEST_APP.appKey}'`],
      ["'xxxxxx'", `'${TEST_APP.appSecret}'`],
      ["'xxx'", "'alice'"],
    ]);
    expect(started).toMatchObject({ result: true, code: '1500200', errors: null });
    const taskId = started.data.task_id ?? 0;
    expect(taskId).toBeGreaterThan(0);
    expect(await waitForTask(flowId, taskId)).toMatchObject({ status: 'success', action: 'start', created_by: 'alice' });
    await waitForOracle('the flow to fold batch 1');
  });

  describe('seed 001: the lifecycle of the same flow', () => {
    it('get, graph and latest_deploy_data describe the running flow', async () => {
      const flow = await ok('GET', `${flowId}/`);
      expect(flow).toMatchObject({ flow_id: flowId, flow_name: 'data-test', project_id: 1, status: 'running', created_by: 'alice' });
      const graph = await ok('GET', `${flowId}/graph/`);
      const ids = (graph['nodes'] as Array<{ node_id: number; node_type: string; frontend_info: unknown }>).map((n) => n.node_type);
      expect(ids).toEqual(['stream_source', 'realtime', 'tspider_storage']);
      expect(graph['links']).toHaveLength(2);
      const deploy = await ok('GET', `${flowId}/latest_deploy_data/`);
      expect(deploy).toMatchObject({ action: 'start', status: 'success' });
      expect(JSON.stringify(deploy['deploy_data'])).toContain(`"consumer_group":"${prefix}rollgate-flow-${flowId}-`);
      // A base URL of the gateway root ending in / (as the seed's does) doubles the slash: tolerated.
      const doubled = await fetch(`${base}//dataflow/flow/flows/${flowId}/?${query}`);
      expect(doubled.status).toBe(200);
    });

    it('stop keeps results and offsets: events sent while stopped are folded once after start', async () => {
      const stop = await ok('POST', `${flowId}/stop/`, {});
      expect(await waitForTask(flowId, stop.task_id ?? 0)).toMatchObject({ status: 'success', action: 'stop' });
      expect((await ok('GET', `${flowId}/`))['status']).toBe('stopped');
      await produce(batch2);
      const start = await ok('POST', `${flowId}/start/`, {});
      expect(await waitForTask(flowId, start.task_id ?? 0)).toMatchObject({ status: 'success' });
      await waitForOracle('the restarted flow to fold batch 2 on top of batch 1');
    });

    it('adds a node, patches a node, and restart deploys them', async () => {
      const graph = await ok('GET', `${flowId}/graph/`);
      const realtime = (graph['nodes'] as Array<{ node_id: number; node_type: string }>).find((n) => n.node_type === 'realtime');
      const storage = (graph['nodes'] as Array<{ node_id: number; node_type: string }>).find((n) => n.node_type === 'tspider_storage');
      const added = await ok('POST', `${flowId}/nodes/`, {
        id: 1,
        node_type: 'mysql_storage',
        name: 'copy',
        result_table_id: `${BIZ}_cpu_mem_copy`,
        expires: 7,
        from_nodes: [{ id: realtime?.node_id, from_result_table_ids: [`${BIZ}_system_proc_ip_grp`] }],
      });
      expect(added.node_ids).toHaveLength(1);
      const patched = await ok('PATCH', `${flowId}/nodes/${storage?.node_id}/`, { expires: 5 });
      expect(patched).toMatchObject({ node_id: storage?.node_id, expires: 5, cluster: 'yyy-lasting' });
      const restart = await ok('POST', `${flowId}/restart/`, {});
      expect(await waitForTask(flowId, restart.task_id ?? 0)).toMatchObject({ status: 'success', action: 'restart' });
      // The new storage reads the topic from the start under its own consumer group; the old one resumes.
      await waitForOracle('the added storage node to catch up', `cpu_mem_copy_${BIZ}`);
      await waitForOracle('the first storage to stay exact');
      const tasks = (await ok('GET', `${flowId}/tasks/`)) as unknown as Array<{ action: string }>;
      expect(tasks.map((t) => t.action)).toEqual(['restart', 'start', 'stop', 'start']);
    });

    it('export gives a body that import turns into a new flow; delete refuses a running flow and removes a stopped one', async () => {
      const exported = await ok('GET', `${flowId}/export/`);
      expect(exported).toMatchObject({ flow_name: 'data-test', project_id: 1 });
      expect(exported['nodes']).toHaveLength(4);
      // Taken as it is, the export would write the same tables as the flow it came from: refused, naming the owner.
      const twin = await call('POST', 'import/', exported);
      expect(twin.status).toBe(409);
      expect(twin.body).toMatchObject({ result: false, code: '1409', errors: { code: 'CONFLICT', field: 'nodes[2].result_table_id' } });
      expect(twin.body.message).toContain(`flow ${flowId}`);
      const renamed = (exported['nodes'] as Array<Record<string, unknown>>).map((n) =>
        String(n['node_type']).endsWith('_storage') ? { ...n, result_table_id: `${String(n['result_table_id'])}_imported` } : n,
      );
      const imported = await ok('POST', 'import/', { ...exported, nodes: renamed });
      expect(imported.flow_id).not.toBe(flowId);
      expect((await ok('GET', `${imported.flow_id}/graph/`))['nodes']).toHaveLength(4);
      const running = await call('DELETE', `${flowId}/`);
      expect(running.status).toBe(409);
      expect(running.body).toMatchObject({ result: false, code: '5009', data: null });
      expect(await ok('DELETE', `${imported.flow_id}/`)).toEqual({ flow_id: imported.flow_id });
      expect((await call('GET', `${imported.flow_id}/`)).status).toBe(404);
      const stop = await ok('POST', `${flowId}/stop/`, {});
      await waitForTask(flowId, stop.task_id ?? 0);
    });
  });
});

describe('slide and accumulate windows', () => {
  it('a 10-minute window sliding by 5 and a 15-minute period accumulated every 5 minutes equal their GROUP BY', async () => {
    const [source, realtime, storage] = seedNodes(BIZ);
    const nodes = [
      source,
      { ...realtime, window_type: 'slide', count_freq: 300, window_time: 10, table_name: 'proc_slide' },
      { ...storage, id: 3, result_table_id: `${BIZ}_cpu_mem_slide`, from_nodes: [{ id: 2, from_result_table_ids: [`${BIZ}_proc_slide`] }], publish_api: true },
      { ...realtime, id: 4, window_type: 'accumulate', count_freq: 300, window_time: 15, table_name: 'proc_acc' },
      { ...storage, id: 5, result_table_id: `${BIZ}_cpu_mem_acc`, from_nodes: [{ id: 4, from_result_table_ids: [`${BIZ}_proc_acc`] }] },
    ];
    const created = await ok('POST', 'create/', { project_id: 1, flow_name: 'windows', nodes });
    const start = await ok('POST', `${created.flow_id}/start/`, {});
    expect(await waitForTask(created.flow_id ?? 0, start.task_id ?? 0)).toMatchObject({ status: 'success' });
    // Sliding: an event at slot s is in the windows starting at s and s - 5 min.
    await waitForOracle('the sliding window', `cpu_mem_slide_${BIZ}`, () => shiftedOracle([0, -1], '1 = 1'));
    // Accumulating: in its own slot's window and every later one of the same 15-minute period.
    await waitForOracle('the accumulating window', `cpu_mem_acc_${BIZ}`, () => shiftedOracle([0, 1, 2], 'FLOOR(ws / 900) = FLOOR(ts / 900000)'));
    // The slide storage asked for an API: the gateway (another process) serves the table at /api/dataflow/<result table>.
    const expectedRows = (await results(`cpu_mem_slide_${BIZ}`)).length;
    const served = await waitFor('the published API', async () => {
      const res = await fetch(`${base}/api/dataflow/${BIZ}_cpu_mem_slide?pageSize=1000`, { headers: appHeaders });
      return res.status === 200 ? ((await res.json()) as { data: { totalNum: number; rows: Array<Record<string, unknown>> } }) : undefined;
    });
    expect(served.data.totalNum).toBe(expectedRows);
    expect(Object.keys(served.data.rows[0] ?? {})).toEqual(expect.arrayContaining(['window_start', 'ip', 'pid', 'mem', 'cpu_usage_pct', 'mem_usage_pct', 'final']));
    const stop = await ok('POST', `${created.flow_id}/stop/`, {});
    await waitForTask(created.flow_id ?? 0, stop.task_id ?? 0);
  });
});

describe('bad flows are refused with the envelope, a stable code and the reason', () => {
  const create = (nodes: Array<Record<string, unknown>>) => call('POST', 'create/', { project_id: 1, flow_name: 'bad', nodes });

  it('bad SQL: 400, code 5001, with line and column', async () => {
    const nodes = seedNodes(BIZ);
    nodes[1] = { ...nodes[1], sql: `SELECT max(mem_res) AS mem, ip, pid\nFROM ${BIZ}_system_proc\nGROUP BY ip, pid HAVING` };
    const { status, body } = await create(nodes);
    expect(status).toBe(400);
    expect(body).toMatchObject({ result: false, code: '5001', data: null, errors: { code: 'INVALID_FLOW_SQL', field: 'nodes[1].sql', line: 3 } });
    expect(body.message).toMatch(/line 3, column \d+/);
  });

  it('a cycle and an unknown node: 400, code 5002', async () => {
    const cycle = seedNodes(BIZ);
    cycle[1] = { ...cycle[1], from_nodes: [{ id: 1, from_result_table_ids: [`${BIZ}_system_proc`] }, { id: 3, from_result_table_ids: [`${BIZ}_cpu_mem_test_5min`] }] };
    const c = await create(cycle);
    expect(c.status).toBe(400);
    expect(c.body).toMatchObject({ result: false, code: '5002', errors: { code: 'INVALID_FLOW_GRAPH' } });
    expect(c.body.message).toMatch(/cycle/);
    const unknown = seedNodes(BIZ);
    unknown[2] = { ...unknown[2], from_nodes: [{ id: 42, from_result_table_ids: [`${BIZ}_system_proc_ip_grp`] }] };
    const u = await create(unknown);
    expect(u.body).toMatchObject({ result: false, code: '5002', errors: { field: 'nodes[2].from_nodes[0].id' } });
    expect(u.body.message).toMatch(/unknown node 42/);
  });

  it('a field the source does not have, a node type rollgate does not know, a missing flow', async () => {
    const field = seedNodes(BIZ);
    field[1] = { ...field[1], sql: `SELECT max(disk) AS disk, ip, pid FROM ${BIZ}_system_proc GROUP BY ip, pid` };
    expect((await create(field)).body).toMatchObject({ result: false, code: '5001' });
    const type = seedNodes(BIZ);
    type[2] = { ...type[2], node_type: 'hdfs_storage' };
    const t = await create(type);
    expect(t.status).toBe(400);
    expect(t.body).toMatchObject({ result: false, code: '1400', errors: { field: 'nodes[2].node_type' } });
    const missing = await call('GET', '999999999/');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ result: false, code: '1404' });
  });

  it('wrong or missing credentials: 401 in the envelope', async () => {
    const res = await fetch(`${base}/dataflow/flow/flows/create/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...credentials, bk_app_secret: 'wrong', flow_name: 'x', nodes: seedNodes(BIZ) }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ result: false, code: '1401', data: null });
    const anonymous = await fetch(`${base}/dataflow/flow/flows/1/`);
    expect(anonymous.status).toBe(401);
    const malformed = await fetch(`${base}/dataflow/flow/flows/create/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"nodes": [' });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ result: false, code: '1400' });
  });
});
