import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cpuMem5min } from '../../../aggregators/cpu-mem-5min.js';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';
import { adminHeaders, appHeaders, TEST_APP, testGateway } from '../../helpers/gateway.js';
import { signedRequest } from '../../helpers/signing.js';
import type { FastifyInstance } from 'fastify';

/** Every credential a call or an admin action carries stays out of the log, even at trace level. */
let lines = '';
const logger = pino(
  { level: 'trace' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      lines += chunk.toString();
      done();
    },
  }),
);
let store: DuckDbStore;
let app: FastifyInstance;

beforeAll(async () => {
  store = await DuckDbStore.open(':memory:');
  await store.ensureTable(cpuMem5min);
  app = await testGateway(store, [], {}, logger);
});

afterAll(async () => {
  await app?.close();
  await store?.close();
});

it('logs no appSecret, appCode, signature, token or admin token', async () => {
  const created = (await app.inject({ method: 'POST', url: '/admin/apps', headers: adminHeaders, payload: { name: 'logged', allowAppCodeQuery: true, grants: ['api:cpu_mem_5min'] } })).json().data;
  await app.inject({ url: `/api/cpu-mem-5min?appCode=${created.appCode}` });
  await app.inject({ url: '/api/cpu-mem-5min', headers: appHeaders });
  const signed = signedRequest({ method: 'GET', url: '/api/cpu-mem-5min', appKey: TEST_APP.appKey, appSecret: TEST_APP.appSecret });
  await app.inject({ url: '/api/cpu-mem-5min', headers: signed.headers });
  const token = (await app.inject({ method: 'POST', url: '/auth/token', headers: appHeaders })).json().data.token as string;
  await app.inject({ url: '/api/cpu-mem-5min', headers: { authorization: `Bearer ${token}` } });
  await app.inject({ method: 'POST', url: `/admin/apps/${created.appKey}/rotate`, headers: adminHeaders });
  // Flow calls carry bk_app_secret in the body, or in the query string of a GET.
  await app.inject({ url: `/dataflow/flow/flows/1/?bk_app_code=${TEST_APP.appKey}&bk_app_secret=${TEST_APP.appSecret}` });
  await app.inject({ method: 'POST', url: '/dataflow/flow/flows/create/', payload: { bk_app_code: TEST_APP.appKey, bk_app_secret: TEST_APP.appSecret, flow_name: 'x', nodes: [{}] } });
  // Percent-encoded names are the same parameters to the server, so they are redacted too.
  await app.inject({ url: `/api/cpu-mem-5min?app%43ode=${created.appCode}` });
  await app.inject({ url: `/dataflow/flow/flows/1/?bk_app_code=${TEST_APP.appKey}&bk%5Fapp%5Fsecret=${TEST_APP.appSecret}` });
  expect(lines).toContain('/api/cpu-mem-5min?appCode=[redacted]');
  expect(lines).toContain('app%43ode=[redacted]');
  expect(lines).toContain('bk%5Fapp%5Fsecret=[redacted]');
  expect(lines).toContain('bk_app_secret=[redacted]');
  for (const secret of [created.appSecret, created.appCode, TEST_APP.appSecret, TEST_APP.appCode, signed.headers['x-ca-signature'], token, adminHeaders.authorization.slice(7)]) {
    expect(lines).not.toContain(secret);
  }
});
