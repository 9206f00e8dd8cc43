import type { FastifyInstance, InjectOptions } from 'fastify';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuMem5min } from '../../../aggregators/cpu-mem-5min.js';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';
import { adminHeaders, appHeaders, TEST_APP, testGateway, type GraphQLResponse } from '../../helpers/gateway.js';
import { signedRequest, type SignInput } from '../../helpers/signing.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The security suite of issue 6: every way a call can be wrong is refused
 * with its own errCode (and X-Ca-Error-Message), and nothing crashes the server.
 */
const JWT_KEYS = [
  { kid: 'k2', secret: 'second-jwt-secret-0123456789abcdefghij' },
  { kid: 'k1', secret: 'first-jwt-secret-0123456789abcdefghijkl' },
];

let store: DuckDbStore;
let app: FastifyInstance;
let proxied: FastifyInstance;

const API = '/api/cpu-mem-5min';
const POST_API = '/api/shop/by-region';

const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: Record<string, unknown>) =>
  app.inject({ method, url, headers: adminHeaders, ...(payload === undefined ? {} : { payload }) });

async function createApp(body: Record<string, unknown>): Promise<{ appKey: string; appSecret: string; appCode: string }> {
  const res = await admin('POST', '/admin/apps', body);
  expect(res.statusCode, res.body).toBe(201);
  return res.json().data;
}

function send(input: Partial<SignInput> & { url: string }, tamper: (o: InjectOptions & { headers: Record<string, string> }) => void = () => undefined, on = app) {
  const method = input.method ?? 'GET';
  const { headers } = signedRequest({ method, appKey: TEST_APP.appKey, appSecret: TEST_APP.appSecret, ...input });
  const options: InjectOptions & { headers: Record<string, string> } = {
    method,
    url: input.url,
    headers,
    ...(input.body === undefined ? {} : { payload: input.body }),
  };
  tamper(options);
  return on.inject(options);
}

function expectRefused(res: { statusCode: number; json(): { errCode: number }; headers: Record<string, unknown> }, status: number, errCode: number) {
  expect(res.statusCode).toBe(status);
  expect(res.json().errCode).toBe(errCode);
  expect(typeof res.headers['x-ca-error-message']).toBe('string');
  expect(String(res.headers['x-ca-error-message'])).not.toContain(TEST_APP.appSecret);
}

beforeAll(async () => {
  store = await DuckDbStore.open(':memory:');
  await store.ensureTable(cpuMem5min);
  const conn = await store.database.connect();
  await conn.run(`CREATE TABLE sales (day DATE, region VARCHAR, amount DOUBLE)`);
  await conn.run(`INSERT INTO sales VALUES ('2026-11-01', 'north', 10), ('2026-11-02', 'south', 20)`);
  conn.closeSync();
  const env = { ROLLGATE_JWT_KEYS: JSON.stringify(JWT_KEYS), DASHBOARD_APP_KEY: TEST_APP.appKey };
  app = await testGateway(store, [], env);
  const def = {
    mode: 'wizard', name: 'by_region', group: 'shop', path: '/shop/by-region', method: 'POST', dataSource: 'builtin_clickhouse', table: 'sales',
    requestParams: [{ name: 'region', column: 'region', type: 'STRING', operator: 'in' }],
    responseParams: [{ column: 'region', type: 'STRING' }, { column: 'amount', type: 'DOUBLE' }],
  };
  const created = await admin('POST', '/admin/apis', def);
  expect(created.statusCode, created.body).toBe(201);
  expect((await admin('POST', `/admin/apis/${created.json().data.id}/publish`)).statusCode).toBe(200);
  proxied = await testGateway(store, [], { ...env, TRUSTED_PROXIES: '192.0.2.1' });
});

afterAll(async () => {
  await proxied?.close();
  await app?.close();
  await store?.close();
});

describe('anonymous calls', () => {
  it('refuses /api and GraphQL without credentials (1401) but keeps health, metrics, OpenAPI and / open', async () => {
    expectRefused(await app.inject({ url: API }), 401, 1401);
    expectRefused(await app.inject({ method: 'POST', url: '/graphql', payload: { query: '{ cpuMemRollups { totalNum } }' } }), 401, 1401);
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/']) expect((await app.inject({ url })).statusCode, url).toBe(200);
  });
});

describe('AppCode', () => {
  it('accepts the header and refuses a wrong code with 1401', async () => {
    expect((await app.inject({ url: API, headers: appHeaders })).statusCode).toBe(200);
    expectRefused(await app.inject({ url: API, headers: { authorization: 'APPCODE wrong-code-0123456789' } }), 401, 1401);
  });

  it('takes ?appCode= only from an app that allows it, and the binder does not see it as an unknown parameter', async () => {
    const a = await createApp({ name: 'query-code', grants: ['api:cpu_mem_5min'] });
    expectRefused(await app.inject({ url: `${API}?appCode=${a.appCode}` }), 401, 1401);
    expect((await admin('PUT', `/admin/apps/${a.appKey}`, { allowAppCodeQuery: true })).statusCode).toBe(200);
    const res = await app.inject({ url: `${API}?appCode=${a.appCode}&pageSize=1` });
    expect(res.statusCode, res.body).toBe(200);
  });
});

describe('signatures', () => {
  it('accepts a correctly signed GET, and a POST with a JSON body and Content-MD5', async () => {
    expect((await send({ url: `${API}?pageSize=1&ip=10.0.0.1` })).statusCode).toBe(200);
    const res = await send({ method: 'POST', url: POST_API, body: JSON.stringify({ region: ['north'] }), contentType: 'application/json' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().data.rows).toEqual([{ region: 'north', amount: 10 }]);
  });

  it('accepts a signed form POST (form fields are part of the string to sign)', async () => {
    const res = await send({ method: 'POST', url: POST_API, body: 'region=south', contentType: 'application/x-www-form-urlencoded; charset=UTF-8' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().data.rows).toEqual([{ region: 'south', amount: 20 }]);
  });

  it('refuses a replayed nonce with 4102', async () => {
    const first = await send({ url: API, nonce: 'nonce-replay-1' });
    expect(first.statusCode).toBe(200);
    expectRefused(await send({ url: API, nonce: 'nonce-replay-1' }), 401, 4102);
  });

  it('refuses a repeated parameter holding a comma (1400): its signature would also cover other splits of the values', async () => {
    const res = await send({ method: 'POST', url: `${POST_API}?region=north,south,east`, body: '{}', contentType: 'application/json' }, (o) => {
      o.url = `${POST_API}?region=north,south&region=east`;
    });
    expectRefused(res, 400, 1400);
    expect(String(res.headers['x-ca-error-message'])).toBe('Ambiguous Repeated Parameter');
    // Repeats without commas sign and bind exactly as the comma-separated single value.
    const repeated = await send({ method: 'POST', url: `${POST_API}?region=north,south`, body: '{}', contentType: 'application/json' }, (o) => {
      o.url = `${POST_API}?region=north&region=south`;
    });
    expect(repeated.statusCode, repeated.body).toBe(200);
  });

  it('refuses a nonce over 128 characters as a bad parameter (1400), not as a replay', async () => {
    const res = await send({ url: API, nonce: 'n'.repeat(129) });
    expectRefused(res, 400, 1400);
    expect(String(res.headers['x-ca-error-message'])).toBe('Invalid Nonce');
  });

  it.each([
    ['16 minutes old', Date.now() - 16 * 60_000],
    ['16 minutes ahead', Date.now() + 16 * 60_000],
    ['in seconds, not milliseconds', Math.floor(Date.now() / 1000)],
  ])('refuses a timestamp %s with 4103', async (_name, timestamp) => {
    expectRefused(await send({ url: API, timestamp }), 401, 4103);
  });

  it('refuses a wrong secret with 4101, sending back the server string to sign with # for newlines and no secret', async () => {
    const res = await send({ url: `${API}?pageSize=1`, appSecret: 'not-the-secret-0123456789' });
    expectRefused(res, 401, 4101);
    const message = String(res.headers['x-ca-error-message']);
    expect(message).toMatch(/^Invalid Signature, Server StringToSign:`GET#application\/json####x-ca-key:test-app-key-0001#x-ca-nonce:[^#]+#x-ca-timestamp:\d+#\/api\/cpu-mem-5min\?pageSize=1`$/);
  });

  it('refuses a tampered path, query, signed header or body', async () => {
    expectRefused(await send({ url: `${API}?pageSize=1` }, (o) => (o.url = '/api/cpu-mem-5min/?pageSize=1')), 401, 4101);
    expectRefused(await send({ url: `${API}?pageSize=1` }, (o) => (o.url = `${API}?pageSize=2`)), 401, 4101);
    expectRefused(await send({ url: `${API}?pageSize=1` }, (o) => (o.url = `${API}?pageSize=1&ip=10.0.0.1`)), 401, 4101);
    expectRefused(await send({ url: API, extra: { 'x-ca-stage': 'RELEASE' } }, (o) => (o.headers['x-ca-stage'] = 'TEST')), 401, 4101);
    expectRefused(await send({ url: API }, (o) => (o.headers['accept'] = 'text/html')), 401, 4101);
    const body = JSON.stringify({ region: ['north'] });
    // The body changed, its Content-MD5 did not: 4104.
    expectRefused(await send({ method: 'POST', url: POST_API, body, contentType: 'application/json' }, (o) => (o.payload = JSON.stringify({ region: ['south'] }))), 401, 4104);
    // Both changed: Content-MD5 is signed, so 4101.
    expectRefused(
      await send({ method: 'POST', url: POST_API, body, contentType: 'application/json' }, (o) => {
        o.payload = JSON.stringify({ region: ['south'] });
        o.headers['content-md5'] = createHash('md5').update(String(o.payload)).digest('base64');
      }),
      401,
      4101,
    );
    // A tampered form field is a tampered parameter.
    expectRefused(await send({ method: 'POST', url: POST_API, body: 'region=south', contentType: 'application/x-www-form-urlencoded' }, (o) => (o.payload = 'region=north')), 401, 4101);
    // A body without Content-MD5.
    expectRefused(await send({ method: 'POST', url: POST_API, body, contentType: 'application/json' }, (o) => delete o.headers['content-md5']), 401, 4104);
  });

  it.each(['x-ca-key', 'x-ca-signature', 'x-ca-timestamp', 'x-ca-nonce', 'x-ca-signature-headers'])('refuses a request without %s with 1401', async (name) => {
    const res = await send({ url: API }, (o) => delete o.headers[name]);
    // Without both x-ca-key and x-ca-signature nothing says a signature was meant: still 1401.
    expectRefused(res, 401, 1401);
  });

  it('refuses a signature that does not cover x-ca-nonce and x-ca-timestamp (1401): they could be swapped for a replay', async () => {
    const res = await send({ url: API }, (o) => (o.headers['x-ca-signature-headers'] = 'x-ca-key'));
    expectRefused(res, 401, 1401);
  });

  it('refuses an unknown x-ca-key with 1401', async () => {
    expectRefused(await send({ url: API, appKey: 'no-such-app-key' }), 401, 1401);
  });
});

describe('app status, IP allowlist and grants', () => {
  it('refuses a disabled app with 4301 (AppCode and signature) and serves it again when enabled', async () => {
    const a = await createApp({ name: 'to-disable', grants: ['api:cpu_mem_5min'] });
    expect((await admin('POST', `/admin/apps/${a.appKey}/disable`)).json().data.status).toBe('disabled');
    expectRefused(await app.inject({ url: API, headers: { authorization: `APPCODE ${a.appCode}` } }), 403, 4301);
    expectRefused(await send({ url: API, appKey: a.appKey, appSecret: a.appSecret }), 403, 4301);
    await admin('POST', `/admin/apps/${a.appKey}/enable`);
    expect((await app.inject({ url: API, headers: { authorization: `APPCODE ${a.appCode}` } })).statusCode).toBe(200);
  });

  it('refuses an address outside the allowlist with 4302, for IPv4, IPv6 and IPv4-mapped IPv6', async () => {
    const a = await createApp({ name: 'allowlisted', grants: ['api:cpu_mem_5min'], ipAllowlist: ['10.1.0.0/16', '2001:db8::/32', '192.0.2.9'] });
    const call = (remoteAddress: string, headers: Record<string, string> = {}) =>
      app.inject({ url: API, remoteAddress, headers: { authorization: `APPCODE ${a.appCode}`, ...headers } });
    for (const ok of ['10.1.2.3', '::ffff:10.1.200.1', '2001:db8::5', '192.0.2.9']) expect((await call(ok)).statusCode, ok).toBe(200);
    for (const bad of ['10.2.0.1', '127.0.0.1', '2001:db9::1', '::ffff:10.2.0.1', '192.0.2.10']) expectRefused(await call(bad), 403, 4302);
  });

  it('ignores a spoofed X-Forwarded-For without a trusted proxy, and honours it from one', async () => {
    const a = await createApp({ name: 'behind-proxy', grants: ['api:cpu_mem_5min'], ipAllowlist: ['10.1.0.0/16'] });
    const headers = { authorization: `APPCODE ${a.appCode}`, 'x-forwarded-for': '10.1.2.3' };
    expectRefused(await app.inject({ url: API, remoteAddress: '198.51.100.7', headers }), 403, 4302);
    // TRUSTED_PROXIES=192.0.2.1: from that peer the header names the client; from any other it does not.
    // The second gateway shares the catalog and sees the new app within its 2 s refresh.
    await waitFor('the other instance to know the app', async () =>
      (await proxied.inject({ url: API, remoteAddress: '192.0.2.1', headers })).statusCode === 200 ? true : undefined, 5000, 100);
    expectRefused(await proxied.inject({ url: API, remoteAddress: '198.51.100.7', headers }), 403, 4302);
  });

  it('refuses an ungranted API with 4303 over REST, and the GraphQL field reading it with NOT_GRANTED', async () => {
    const a = await createApp({ name: 'shop-only', grants: ['group:shop'] });
    const auth = { authorization: `APPCODE ${a.appCode}` };
    expectRefused(await app.inject({ url: API, headers: auth }), 403, 4303);
    expect((await app.inject({ method: 'POST', url: POST_API, headers: auth, payload: {} })).statusCode).toBe(200);
    const gql = (await app.inject({ method: 'POST', url: '/graphql', headers: auth, payload: { query: '{ cpuMemRollups { totalNum } }' } })).json() as GraphQLResponse<unknown>;
    expect(gql.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_GRANTED', errCode: 4303 });
    const granted = (await app.inject({ method: 'POST', url: '/graphql', headers: appHeaders, payload: { query: '{ cpuMemRollups { totalNum } }' } })).json() as GraphQLResponse<unknown>;
    expect(granted.errors).toBeUndefined();
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After once an app is over its rps and burst', async () => {
    const a = await createApp({ name: 'slow', grants: ['api:cpu_mem_5min'], rateLimit: { rps: 1, burst: 1 } });
    const statuses: number[] = [];
    let retryAfter: unknown;
    for (let i = 0; i < 4; i++) {
      const res = await app.inject({ url: API, headers: { authorization: `APPCODE ${a.appCode}` } });
      statuses.push(res.statusCode);
      if (res.statusCode === 429) {
        expect(res.json().errCode).toBe(1429);
        retryAfter = res.headers['retry-after'];
      }
    }
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses.slice(2)).toEqual([429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  });
});

const issue = async (headers: Record<string, string>) => app.inject({ method: 'POST', url: '/auth/token', headers });

describe('JWT bearer tokens', () => {
  it('never grant more than they claim: a token claiming fewer grants than its app holds gets only those', async () => {
    const narrow = jwt.sign({ appKey: TEST_APP.appKey, grants: ['api:region_order_totals'] }, JWT_KEYS[0]!.secret, {
      keyid: 'k2', algorithm: 'HS256', issuer: 'rollgate', audience: 'rollgate-api', subject: TEST_APP.appKey, expiresIn: 60,
    });
    expectRefused(await app.inject({ url: API, headers: { authorization: `Bearer ${narrow}` } }), 403, 4303);
  });

  it('/dashboard/session hands the page read grants only: no flows', async () => {
    const res = await app.inject({ url: '/dashboard/session' });
    expect(res.statusCode, res.body).toBe(200);
    const claims = jwt.decode(res.json().data.token) as { grants: string[] };
    expect(claims.grants).toContain('api:cpu_mem_5min');
    expect(claims.grants).not.toContain('flows');
    expect((await app.inject({ url: API, headers: { authorization: `Bearer ${res.json().data.token as string}` } })).statusCode).toBe(200);
  });

  it('issues a short-lived token to an AppCode or a signature, carrying the appKey and grants, accepted on /api and /graphql', async () => {
    const res = await issue(appHeaders);
    expect(res.statusCode, res.body).toBe(200);
    const { token, expiresIn, appKey, grants } = res.json().data;
    expect(appKey).toBe(TEST_APP.appKey);
    expect(grants).toContain('api:cpu_mem_5min');
    expect(expiresIn).toBe(900);
    const decoded = jwt.decode(token, { complete: true });
    expect(decoded?.header).toMatchObject({ alg: 'HS256', kid: 'k2' });
    expect(decoded?.payload).toMatchObject({ sub: TEST_APP.appKey, appKey: TEST_APP.appKey });
    expect((await app.inject({ url: API, headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
    const signed = signedRequest({ method: 'POST', url: '/auth/token', appKey: TEST_APP.appKey, appSecret: TEST_APP.appSecret });
    expect((await app.inject({ method: 'POST', url: '/auth/token', headers: signed.headers })).statusCode).toBe(200);
  });

  it('still accepts a token signed with an older key (k1) during rotation', async () => {
    const token = jwt.sign({ appKey: TEST_APP.appKey }, JWT_KEYS[1]!.secret, { keyid: 'k1', algorithm: 'HS256', issuer: 'rollgate', audience: 'rollgate-api', subject: TEST_APP.appKey, expiresIn: 60 });
    expect((await app.inject({ url: API, headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
  });

  it('refuses an expired token with 4105', async () => {
    const token = jwt.sign({ appKey: TEST_APP.appKey, exp: Math.floor(Date.now() / 1000) - 10 }, JWT_KEYS[0]!.secret, { keyid: 'k2', algorithm: 'HS256', issuer: 'rollgate', audience: 'rollgate-api', subject: TEST_APP.appKey });
    expectRefused(await app.inject({ url: API, headers: { authorization: `Bearer ${token}` } }), 401, 4105);
  });

  it('refuses a token with an unknown kid, the wrong key for its kid, alg none, or the admin audience, with 4106', async () => {
    const opts = { algorithm: 'HS256' as const, issuer: 'rollgate', audience: 'rollgate-api', subject: TEST_APP.appKey, expiresIn: 60 };
    const tokens = [
      jwt.sign({}, JWT_KEYS[0]!.secret, { ...opts, keyid: 'k9' }),
      jwt.sign({}, JWT_KEYS[1]!.secret, { ...opts, keyid: 'k2' }),
      jwt.sign({}, 'an-attacker-secret-0123456789abcdefgh', { ...opts, keyid: 'k2' }),
      jwt.sign({}, '', { ...opts, algorithm: 'none', keyid: 'k2' }),
      jwt.sign({}, JWT_KEYS[0]!.secret, { ...opts, keyid: 'k2', audience: 'rollgate-admin' }),
      'not.a.jwt',
    ];
    for (const token of tokens) expectRefused(await app.inject({ url: API, headers: { authorization: `Bearer ${token}` } }), 401, 4106);
  });

  it('does not let a token renew itself at /auth/token', async () => {
    const { token } = (await issue(appHeaders)).json().data;
    expectRefused(await issue({ authorization: `Bearer ${token}` }), 401, 1401);
  });
});

describe('admin apps', () => {
  it('shows appSecret and appCode once, never in get or list, and rotation retires the old ones', async () => {
    const a = await createApp({ name: 'rotating', grants: ['api:cpu_mem_5min'] });
    expect(a.appSecret).toMatch(/^[\w-]{32}$/);
    for (const res of [await admin('GET', `/admin/apps/${a.appKey}`), await admin('GET', '/admin/apps')]) {
      expect(res.statusCode).toBe(200);
      expect(res.body).not.toContain(a.appSecret);
      expect(res.body).not.toContain(a.appCode);
      expect(res.body).not.toMatch(/sealed|hash/i);
    }
    const rotated = (await admin('POST', `/admin/apps/${a.appKey}/rotate`)).json().data;
    expect(rotated.appSecret).not.toBe(a.appSecret);
    expectRefused(await app.inject({ url: API, headers: { authorization: `APPCODE ${a.appCode}` } }), 401, 1401);
    expectRefused(await send({ url: API, appKey: a.appKey, appSecret: a.appSecret }), 401, 4101);
    expect((await send({ url: API, appKey: a.appKey, appSecret: rotated.appSecret })).statusCode).toBe(200);
    expect((await app.inject({ url: API, headers: { authorization: `APPCODE ${rotated.appCode}` } })).statusCode).toBe(200);
  });

  it('validates grants, allowlists and rate limits with 1400 naming the field', async () => {
    for (const [body, field] of [
      [{ name: 'x', grants: ['everything'] }, 'grants[0]'],
      [{ name: 'x', ipAllowlist: ['10.0.0.0/33'] }, 'ipAllowlist'],
      [{ name: 'x', rateLimit: { rps: 0, burst: 1 } }, 'rateLimit.rps'],
    ] as const) {
      const res = await admin('POST', '/admin/apps', body);
      expect(res.statusCode).toBe(400);
      expect(res.json().errMsg).toContain(field);
    }
  });

  it('accepts an admin JWT from POST /admin/token, but not an app token, on /admin', async () => {
    const adminToken = (await admin('POST', '/admin/token')).json().data.token;
    expect((await app.inject({ url: '/admin/apps', headers: { authorization: `Bearer ${adminToken}` } })).statusCode).toBe(200);
    // An admin JWT cannot mint more admin JWTs.
    expect((await app.inject({ method: 'POST', url: '/admin/token', headers: { authorization: `Bearer ${adminToken}` } })).statusCode).toBe(401);
    const appToken = (await issue(appHeaders)).json().data.token;
    expect((await app.inject({ url: '/admin/apps', headers: { authorization: `Bearer ${appToken}` } })).json().errCode).toBe(4106);
    // And an admin JWT is not an app token.
    expect((await app.inject({ url: API, headers: { authorization: `Bearer ${adminToken}` } })).json().errCode).toBe(4106);
  });
});

describe('fuzzed auth headers', () => {
  const headerText = fc.string({ unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCXYZabcxyz[\\]^_`{|}~'.split('')), maxLength: 80 });
  const authHeaders = fc.record(
    {
      authorization: fc.oneof(headerText, headerText.map((s) => `APPCODE ${s}`), headerText.map((s) => `Bearer ${s}`), headerText.map((s) => `Bearer ${s}.${s}.${s}`)),
      'x-ca-key': fc.oneof(headerText, fc.constant(TEST_APP.appKey)),
      'x-ca-signature': headerText,
      'x-ca-timestamp': fc.oneof(headerText, fc.integer().map(String), fc.constant(String(Date.now()))),
      'x-ca-nonce': headerText,
      'x-ca-signature-headers': fc.oneof(headerText, fc.constant('x-ca-key,x-ca-nonce,x-ca-timestamp'), fc.constant(',,,X-CA-NONCE,  x-ca-timestamp ,authorization')),
      'content-md5': headerText,
    },
    { requiredKeys: [] },
  );

  it('never answers 5xx or 200 to malformed credentials, and the server keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(authHeaders, fc.constantFrom('GET', 'POST'), fc.constantFrom(API, `${API}?pageSize=1&a=%ZZ&b`, POST_API, '/graphql', '/auth/token'), async (headers, method, url) => {
        const res = await app.inject({ method: method as 'GET' | 'POST', url, headers: headers as Record<string, string>, ...(method === 'POST' ? { payload: '{"region":"north"}', headers: { ...(headers as Record<string, string>), 'content-type': 'application/json' } } : {}) });
        expect([400, 401, 403, 404, 405, 429]).toContain(res.statusCode);
        expect(res.json().errCode).toBeGreaterThan(0);
      }),
      { numRuns: 400 },
    );
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ url: API, headers: appHeaders })).statusCode).toBe(200);
  });
});

describe('wrong AppCodes', () => {
  it('are throttled per client address: past AUTH_FAILURES_PER_MINUTE even a right one waits, other addresses and signatures do not', async () => {
    const limited = await testGateway(store, [], { AUTH_FAILURES_PER_MINUTE: '5' });
    try {
      const from = (remoteAddress: string, authorization: string) => limited.inject({ url: API, headers: { authorization }, remoteAddress });
      for (let i = 0; i < 5; i++) expect((await from('10.1.1.1', `APPCODE guess-${i}`)).statusCode).toBe(401);
      const blocked = await from('10.1.1.1', `APPCODE ${TEST_APP.appCode}`);
      expectRefused(blocked, 429, 1429);
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      expect((await from('10.1.1.2', `APPCODE ${TEST_APP.appCode}`)).statusCode).toBe(200);
      expect((await send({ url: API }, (o) => (o.remoteAddress = '10.1.1.1'), limited)).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
