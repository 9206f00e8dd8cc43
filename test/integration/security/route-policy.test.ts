import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../helpers/events.js';
import { adminHeaders, createApp as createTestApp, type CreatedApp, stackGateway } from '../../helpers/gateway.js';
import { stackEnv } from '../../helpers/stack.js';

/**
 * One app policy on every route family: an app's IP allowlist, rate limit and grants hold on the DataFlow API
 * (at /dataflow and under the BlueKing gateway path /api/c/compapi) exactly as on /api and /graphql, on a gateway
 * composed as `rollgate serve` composes it, with its rate limits in the real Redis.
 */
const stack = stackEnv();
const env = { CLICKHOUSE_URL: stack.CLICKHOUSE_URL, CLICKHOUSE_DATABASE: uniqueName('rollgate_policy'), MYSQL_URL: stack.MYSQL_URL, REDIS_URL: stack.REDIS_URL };
let app: FastifyInstance;
const FLOW_ROOTS = ['/dataflow/flow/flows', '/api/c/compapi/data/v3/dataflow/flow/flows'];

/** An app of its own for one test. */
const createApp = (body: Record<string, unknown>) => createTestApp(app, body);

/** A flow call as the seed's scripts make it: credentials in the query of a GET. */
async function listTasks(root: string, created: CreatedApp, remoteAddress = '127.0.0.1') {
  const query = new URLSearchParams({ bk_app_code: created.appKey, bk_app_secret: created.appSecret }).toString();
  const res = await app.inject({ method: 'GET', url: `${root}/999999999/tasks/?${query}`, remoteAddress });
  return { status: res.statusCode, body: res.json() as { result: boolean; code: string; errors: { code: string } | null }, headers: res.headers };
}

beforeAll(async () => {
  ({ app } = await stackGateway(env));
});
afterAll(async () => {
  await app?.close();
});

describe.each(FLOW_ROOTS)('the DataFlow API at %s', (root) => {
  it("applies the app's IP allowlist, as /api does", async () => {
    const fenced = await createApp({ grants: ['flows', 'api:cpu_mem_5min'], ipAllowlist: ['10.9.9.0/24'] });
    const outside = await listTasks(root, fenced, '127.0.0.1');
    expect(outside.status).toBe(403);
    expect(outside.body).toMatchObject({ result: false, code: '4302', errors: { code: 'IP_NOT_ALLOWED' } });
    const api = await app.inject({ method: 'GET', url: '/api/cpu-mem-5min?pageSize=1', headers: { authorization: `APPCODE ${fenced.appCode}` }, remoteAddress: '127.0.0.1' });
    expect(api.statusCode).toBe(403);
    // From inside the allowlist the same credentials get through to the flow service (no such flow: 404).
    expect((await listTasks(root, fenced, '10.9.9.7')).status).toBe(404);
  });

  it("applies the app's rate limit, answering 429 with Retry-After in the envelope", async () => {
    const limited = await createApp({ grants: ['flows'], rateLimit: { rps: 1, burst: 0 } });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await listTasks(root, limited));
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]?.body).toMatchObject({ result: false, code: '1429', errors: { code: 'RATE_LIMITED' } });
    expect(Number(refused[0]?.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('refuses a disabled app and an app without the flows grant', async () => {
    const plain = await createApp({ grants: ['api:cpu_mem_5min'] });
    expect((await listTasks(root, plain)).body).toMatchObject({ result: false, code: '4303' });
    const disabled = await createApp({ grants: ['flows'] });
    const patched = await app.inject({ method: 'POST', url: `/admin/apps/${disabled.appKey}/disable`, headers: adminHeaders });
    expect(patched.statusCode, patched.body).toBe(200);
    expect((await listTasks(root, disabled)).body).toMatchObject({ result: false, code: '4301' });
    expect((await listTasks(root, { ...plain, appSecret: 'not-the-secret-0123456789' })).status).toBe(401);
  });
});
