import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rollups } from '../../../aggregators/index.js';
import { DuckDbClient } from '../../../src/dataservice/catalog/sql-client.js';
import { compileFlow } from '../../../src/flows/flow-graph.js';
import { FlowNode } from '../../../src/flows/flow-nodes.js';
import { FlowStore } from '../../../src/flows/flow-store.js';
import { FlowWorker } from '../../../src/flows/flow-worker.js';
import { MemoryLog } from '../../../src/ingest/memory-log.js';
import { Metrics } from '../../../src/metrics.js';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';
import { procSamples } from '../../helpers/events.js';
import { seedNodes } from '../../helpers/flows.js';
import { adminHeaders, silentLogger, TEST_APP, testGateway } from '../../helpers/gateway.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The flow routes and a flow worker in one process on the embedded stand-ins:
 * DuckDB for the flow store and the results, the in-process topic log.
 */
let duck: DuckDbStore;
let app: FastifyInstance;
let worker: FlowWorker;
const log = new MemoryLog();
const credentials = { bk_app_code: TEST_APP.appKey, bk_app_secret: TEST_APP.appSecret, bk_username: 'bob' };
const query = new URLSearchParams(credentials).toString();

async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: Record<string, unknown>, auth: Record<string, string> = credentials) {
  const res = await app.inject({
    method,
    url: `/dataflow/flow/flows/${path}${body === undefined ? `?${new URLSearchParams(auth).toString()}` : ''}`,
    ...(body === undefined ? {} : { payload: { ...auth, ...body } }),
  });
  return { status: res.statusCode, body: res.json() as { result: boolean; code: string; message: string; data: Record<string, unknown>; errors: Record<string, unknown> | null } };
}

beforeAll(async () => {
  duck = await DuckDbStore.open(':memory:');
  app = await testGateway(duck);
  const flows = new FlowStore(await DuckDbClient.open(duck.database));
  worker = new FlowWorker({
    flows,
    knownSources: rollups,
    log,
    storeFor: async () => duck,
    logger: silentLogger,
    metrics: new Metrics({ defaultMetrics: false }),
    flushMs: 100,
    idleMs: 60_000,
    topicPrefix: '',
  });
  await worker.start();
});

afterAll(async () => {
  await worker?.stop();
  await app?.close();
  await duck?.close();
});

describe('flows on the embedded stand-ins', () => {
  let flowId: number;

  it('create answers in the seed envelope, under the seed base URL with its doubled slash', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/c/compapi/data/v3//dataflow/flow/flows/create/',
      payload: { ...credentials, project_id: 3, flow_name: 'embedded', nodes: seedNodes(7, 'mysql_storage') },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ result: true, code: '1500200', message: 'ok', errors: null });
    flowId = body.data.flow_id;
    expect(body.data.node_ids).toEqual([flowId + 1, flowId + 2, flowId + 3]);
    expect((await call('GET', `${flowId}/`)).body.data).toMatchObject({ status: 'no-start', created_by: 'bob', project_id: 3 });
  });

  it('start is pending until the worker runs it; the table fills; stop is pending until it stops', async () => {
    const started = await call('POST', `${flowId}/start/`, {});
    expect(started.body.data['task_id']).toEqual(expect.any(Number));
    const again = await call('POST', `${flowId}/start/`, {});
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ result: false, code: '5009', errors: { code: 'FLOW_STATE_CONFLICT' } });
    await worker.refresh();
    expect(worker.running.get(flowId)).toBe(1);
    expect((await call('GET', `${flowId}/`)).body.data['status']).toBe('running');
    const producer = await log.producer();
    const samples = procSamples({ seed: 3, series: 3, windows: 2, startMs: Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000, stepMs: 60_000 });
    await producer.send('7_system_proc', samples.map((s) => ({ key: `${s.ip}:${s.pid}`, value: JSON.stringify(s) })));
    const spec = compileFlow(flowId, (await call('GET', `${flowId}/export/`)).body.data['nodes'] as FlowNode[], rollups)[0]?.spec;
    if (spec === undefined) throw new Error('no spec');
    expect(spec.sink.table).toBe('cpu_mem_test_5min_7');
    const page = await waitFor('rows of every window', async () => {
      const p = await duck.query(spec, { equals: {}, limit: 100, offset: 0 });
      return p.rows.filter((r) => r.final).length === 6 ? p : undefined;
    });
    expect(page.rows.length).toBeGreaterThanOrEqual(6);

    const stopped = await call('POST', `${flowId}/stop/`, {});
    expect((await call('GET', `${flowId}/`)).body.data['status']).toBe('stopping');
    await worker.refresh();
    expect(worker.running.has(flowId)).toBe(false);
    const tasks = (await call('GET', `${flowId}/tasks/`)).body.data as unknown as Array<Record<string, unknown>>;
    expect(tasks.map((t) => [t['task_id'], t['action'], t['status']])).toEqual([
      [stopped.body.data['task_id'], 'stop', 'success'],
      [started.body.data['task_id'], 'start', 'success'],
    ]);
    expect((await call('GET', `${flowId}/`)).body.data['status']).toBe('stopped');
    expect((await call('POST', `${flowId}/restart/`, {})).body.code).toBe('5009');
  }, 30_000);

  it('patch checks the whole graph again and keeps keys rollgate does not use', async () => {
    const nodes = (await call('GET', `${flowId}/graph/`)).body.data['nodes'] as Array<{ node_id: number; node_type: string }>;
    const realtime = nodes.find((n) => n.node_type === 'realtime')?.node_id;
    const badSql = await call('PATCH', `${flowId}/nodes/${realtime}/`, { sql: 'SELECT max(mem_res) AS m, ip FROM 7_system_proc GROUP BY ip' });
    expect(badSql.body).toMatchObject({ result: false, code: '5001', errors: { field: 'nodes[1].sql' } });
    const retyped = await call('PATCH', `${flowId}/nodes/${realtime}/`, { node_type: 'stream_source' });
    expect(retyped.body).toMatchObject({ result: false, code: '1400' });
    expect((await call('PATCH', `${flowId}/nodes/999999/`, { name: 'x' })).status).toBe(404);
    const renamed = await call('PATCH', `${flowId}/nodes/${realtime}/`, { waiting_time: 0, frontend_info: { x: 1, y: 2 } });
    expect(renamed.body.data).toMatchObject({ node_id: realtime, waiting_time: 0, frontend_info: { x: 1, y: 2 }, window_type: 'scroll' });
    const clash = await call('POST', `${flowId}/nodes/`, { nodes: [{ ...seedNodes(7)[2], id: realtime }] });
    expect(clash.body).toMatchObject({ result: false, code: '5002' });
  });

  it("keeps every flow on tables of its own: another flow's table is a conflict, a built-in's is refused", async () => {
    const twin = await call('POST', 'create/', { project_id: 3, flow_name: 'twin', nodes: seedNodes(7, 'clickhouse_storage') });
    expect(twin.status).toBe(409);
    expect(twin.body).toMatchObject({ result: false, code: '1409', errors: { code: 'CONFLICT', field: 'nodes[2].result_table_id' } });
    expect(twin.body.message).toContain(`flow ${flowId}`);
    const own = await call('POST', 'create/', { project_id: 3, flow_name: 'own', nodes: seedNodes(8) });
    expect(own.body.result).toBe(true);
    const ownId = own.body.data['flow_id'] as number;
    const storage = ownId + 3;
    // Moving a storage node onto a taken table later is refused the same way, by patch and by add.
    const patched = await call('PATCH', `${ownId}/nodes/${storage}/`, { result_table_id: '7_cpu_mem_test_5min' });
    expect(patched.status).toBe(409);
    const builtin = await call('PATCH', `${ownId}/nodes/${storage}/`, { result_table_id: 'cpu_mem_5min' });
    expect(builtin.body).toMatchObject({ result: false, code: '5002', errors: { field: 'nodes[2].result_table_id' } });
    const added = await call('POST', `${ownId}/nodes/`, {
      ...seedNodes(8)[2],
      id: 999_999,
      result_table_id: 'rollgate_apps',
      from_nodes: [{ id: ownId + 2, from_result_table_ids: ['8_system_proc_ip_grp'] }],
    });
    expect(added.body).toMatchObject({ result: false, code: '5002', errors: { field: 'nodes[3].result_table_id' } });
    expect(added.body.message).toMatch(/rollgate_apps belongs to rollgate itself/);
    expect((await call('DELETE', `${ownId}/`)).body.result).toBe(true);
  });

  it('refuses apps without the flows grant, disabled apps and unknown routes, in the envelope', async () => {
    const created = (await app.inject({ method: 'POST', url: '/admin/apps', headers: adminHeaders, payload: { name: 'no-flows' } })).json().data as { appKey: string; appSecret: string };
    const other = { bk_app_code: created.appKey, bk_app_secret: created.appSecret };
    expect((await call('GET', `${flowId}/`, undefined, other)).body).toMatchObject({ result: false, code: '4303' });
    await app.inject({ method: 'PUT', url: `/admin/apps/${created.appKey}`, headers: adminHeaders, payload: { grants: ['flows'] } });
    expect((await call('GET', `${flowId}/`, undefined, other)).body.result).toBe(true);
    await app.inject({ method: 'POST', url: `/admin/apps/${created.appKey}/disable`, headers: adminHeaders });
    expect((await call('GET', `${flowId}/`, undefined, other)).body).toMatchObject({ result: false, code: '4301' });
    const unknown = await app.inject({ url: `/dataflow/flow/flows/${flowId}/nope/?${query}` });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ result: false, code: '1404' });
    const badId = await call('GET', 'abc/');
    expect(badId.body).toMatchObject({ result: false, code: '1400', errors: { field: 'flow_id' } });
  });
});
