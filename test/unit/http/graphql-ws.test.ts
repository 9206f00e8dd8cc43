import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { cpuMem5min } from '../../../aggregators/cpu-mem-5min.js';
import type { RollupRow } from '../../../src/core/windowed-aggregation.js';
import { rollupRowsTopic } from '../../../src/core/live-messages.js';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';
import { adminHeaders, testGateway, TEST_APP } from '../../helpers/gateway.js';
import { collect, wsClient, type Closed } from '../../helpers/graphql-ws.js';

/**
 * GraphQL subscriptions over graphql-ws on an embedded gateway (in-process
 * pub/sub, DuckDB): who may connect, what a subscriber receives, and that bad
 * input gets a clear error and leaves the server serving.
 */
const T0 = Date.UTC(2026, 10, 22, 9, 0, 0);
const row = (minutes: number, ip: string, pid: number, cpu: number, final: boolean): RollupRow => ({
  windowStart: T0 + minutes * 60_000,
  group: { ip, pid },
  measures: { mem: 1000 + pid, cpu_usage_pct: cpu, mem_usage_pct: cpu / 2, samples: 3 },
  final,
  version: 1,
});

const WINDOWS = `subscription($filter: CpuMemFilter) { cpuMemWindows(filter: $filter) { windowStart ip pid cpuUsagePct samples final } }`;
const auth = { Authorization: `APPCODE ${TEST_APP.appCode}` };
const JWT_SECRET = 'graphql-ws-test-secret-0123456789abcdef';
/** A token of TEST_APP that expires at `expSeconds` (epoch seconds). */
const tokenUntil = (expSeconds: number) =>
  jwt.sign({ exp: expSeconds }, JWT_SECRET, { algorithm: 'HS256', keyid: 't1', issuer: 'rollgate', audience: 'rollgate-api', subject: TEST_APP.appKey });

let store: DuckDbStore;
let app: Awaited<ReturnType<typeof testGateway>>;
let base: string;
let ungrantedCode: string;

beforeAll(async () => {
  store = await DuckDbStore.open(':memory:');
  await store.ensureTable(cpuMem5min);
  // 127.0.0.1 is a trusted proxy here, so X-Forwarded-For on the upgrade names the client (as over HTTP).
  app = await testGateway(store, [], {
    GRAPHQL_WS_MAX_SUBSCRIPTIONS: '2',
    TRUSTED_PROXIES: '127.0.0.1',
    ROLLGATE_JWT_KEYS: JSON.stringify([{ kid: 't1', secret: JWT_SECRET }]),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const created = await app.inject({ method: 'POST', url: '/admin/apps', headers: adminHeaders, payload: { name: 'shop-only', grants: ['group:shop'] } });
  ungrantedCode = created.json().data.appCode;
});

afterAll(async () => {
  await app.close();
  await store.close();
});

/** Connects with these params and resolves with how the server closed the connection. */
function refusal(params: Record<string, unknown> | undefined): Promise<Closed> {
  return new Promise((resolve) => {
    const client = wsClient(base, params, (closed) => {
      resolve(closed);
      void Promise.resolve(client.dispose()).catch(() => undefined);
    });
    collect(client, WINDOWS);
  });
}

/** A raw graphql-transport-ws socket, acknowledged, that records every message and the close. */
async function rawSocket(): Promise<{ ws: WebSocket; messages: Array<Record<string, unknown>>; closed: Promise<Closed> }> {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
  const messages: Array<Record<string, unknown>> = [];
  const closed = new Promise<Closed>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
  await new Promise((resolve) => ws.once('open', resolve));
  ws.send(JSON.stringify({ type: 'connection_init', payload: auth }));
  await until(() => messages.some((m) => m['type'] === 'connection_ack'));
  return { ws, messages, closed };
}

async function until(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('connection auth', () => {
  it('closes 4401 without credentials, with an unknown appCode, or with a signature', async () => {
    expect(await refusal(undefined)).toMatchObject({ code: 4401, reason: expect.stringMatching(/^UNAUTHENTICATED: /) });
    expect(await refusal({ Authorization: 'APPCODE not-a-code' })).toMatchObject({ code: 4401, reason: 'UNAUTHENTICATED: unknown appCode' });
    expect(await refusal({ Authorization: 'Bearer not.a.token' })).toMatchObject({ code: 4401, reason: expect.stringMatching(/^TOKEN_INVALID: /) });
    const signed = await refusal({ 'X-Ca-Key': TEST_APP.appKey, 'X-Ca-Signature': 'x' });
    expect(signed.code).toBe(4401);
    expect(signed.reason).toMatch(/^UNAUTHENTICATED: signatures sign one HTTP request/);
    expect(Buffer.byteLength(signed.reason)).toBeLessThanOrEqual(123);
  });

  it('closes 4403 for a disabled app', async () => {
    const created = await app.inject({ method: 'POST', url: '/admin/apps', headers: adminHeaders, payload: { name: 'to-disable', grants: ['group:rollups'] } });
    const { appKey, appCode } = created.json().data as { appKey: string; appCode: string };
    await app.inject({ method: 'POST', url: `/admin/apps/${appKey}/disable`, headers: adminHeaders });
    expect(await refusal({ Authorization: `APPCODE ${appCode}` })).toMatchObject({ code: 4403, reason: expect.stringMatching(/^APP_DISABLED: /) });
  });

  it("applies the app's IP allowlist to the client address, X-Forwarded-For only from a trusted proxy", async () => {
    const created = await app.inject({ method: 'POST', url: '/admin/apps', headers: adminHeaders, payload: { name: 'office', grants: ['group:rollups'], ipAllowlist: ['10.1.2.0/24'] } });
    const code = created.json().data.appCode as string;
    const connect = (forwardedFor: string | undefined) =>
      new Promise<Closed | 'acknowledged'>((resolve) => {
        const ws = new WebSocket(`${base.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', forwardedFor === undefined ? {} : { headers: { 'x-forwarded-for': forwardedFor } });
        ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `APPCODE ${code}` } })));
        ws.on('message', (data) => {
          if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') {
            resolve('acknowledged');
            ws.close();
          }
        });
        ws.once('close', (closeCode, reason) => resolve({ code: closeCode, reason: reason.toString() }));
      });
    expect(await connect('10.1.2.3')).toBe('acknowledged');
    expect(await connect(undefined)).toEqual({ code: 4403, reason: 'IP_NOT_ALLOWED: calls from 127.0.0.1 are not allowed for this app' });
    expect(await connect('10.9.9.9')).toMatchObject({ code: 4403 });
  });

  it('accepts a bearer token from /auth/token', async () => {
    const token = (await app.inject({ method: 'POST', url: '/auth/token', headers: { authorization: `APPCODE ${TEST_APP.appCode}` } })).json().data.token as string;
    const client = wsClient(base, { authorization: `Bearer ${token}` });
    const sub = collect<{ cpuMemWindows: unknown[] }>(client, WINDOWS);
    await publishUntilReceived(sub, [row(0, '10.0.0.1', 1, 10, false)]);
    await client.dispose();
  });

  it('closes an open connection once its app is disabled or its appCode rotated', async () => {
    for (const [action, code, reason] of [
      ['disable', 4403, /^APP_DISABLED: /],
      ['rotate', 4401, /^UNAUTHENTICATED: unknown appCode/],
    ] as const) {
      const created = await app.inject({ method: 'POST', url: '/admin/apps', headers: adminHeaders, payload: { name: `to-${action}`, grants: ['group:rollups'] } });
      const { appKey, appCode } = created.json().data as { appKey: string; appCode: string };
      let closed: Closed | undefined;
      const client = wsClient(base, { Authorization: `APPCODE ${appCode}` }, (c) => (closed = c));
      const sub = collect(client, WINDOWS);
      await publishUntilReceived(sub, [row(0, '10.0.0.1', 1, 10, false)]);
      expect((await app.inject({ method: 'POST', url: `/admin/apps/${appKey}/${action}`, headers: adminHeaders })).statusCode).toBe(200);
      const seen = sub.results.length;
      while (closed === undefined) {
        await app.live.rollupRows(cpuMem5min.name, [row(0, '10.0.0.1', 1, 11, false)]);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(closed).toMatchObject({ code, reason: expect.stringMatching(reason) });
      expect(sub.results).toHaveLength(seen);
    }
  });

  it('closes 4419 (which clients retry) for a token expired at connection or since', async () => {
    expect(await refusal({ Authorization: `Bearer ${tokenUntil(Math.floor(Date.now() / 1000) - 1)}` })).toMatchObject({
      code: 4419,
      reason: expect.stringMatching(/^TOKEN_EXPIRED: /),
    });
    const exp = Math.floor(Date.now() / 1000) + 2;
    let closed: Closed | undefined;
    const client = wsClient(base, { Authorization: `Bearer ${tokenUntil(exp)}` }, (c) => (closed = c));
    const sub = collect(client, WINDOWS);
    await publishUntilReceived(sub, [row(0, '10.0.0.1', 1, 10, false)]);
    expect(closed).toBeUndefined();
    // Events keep coming until the token has expired; the first after that closes the connection instead.
    while (closed === undefined) {
      await app.live.rollupRows(cpuMem5min.name, [row(0, '10.0.0.1', 1, 11, false)]);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
    expect(closed).toMatchObject({ code: 4419, reason: expect.stringMatching(/^TOKEN_EXPIRED: /) });
  }, 15_000);

  it('refuses a subscription the app is not granted with NOT_GRANTED', async () => {
    const client = wsClient(base, { Authorization: `APPCODE ${ungrantedCode}` });
    const sub = collect(client, WINDOWS);
    await sub.done;
    expect(sub.results).toMatchObject([{ errors: [expect.objectContaining({ extensions: { code: 'NOT_GRANTED', errCode: 4303 } })] }]);
    await client.dispose();
  });
});

/** The in-process pub/sub has no history: publish until the subscription (set up asynchronously) has seen one event. */
async function publishUntilReceived(sub: ReturnType<typeof collect>, rows: RollupRow[]): Promise<void> {
  while (sub.results.length === 0) {
    await app.live.rollupRows(cpuMem5min.name, rows);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('cpuMemWindows', () => {
  it('delivers the rows of each write that match the filter, partial and final', async () => {
    const client = wsClient(base, auth);
    const sub = collect<{ cpuMemWindows: Array<Record<string, unknown>> }>(client, WINDOWS, { filter: { ip: '10.0.0.2' } });
    // A write with no matching row is not an event for this subscriber.
    const probe = [row(0, '10.0.0.1', 1, 10, false), row(0, '10.0.0.2', 2, 20, false)];
    await publishUntilReceived(sub, probe);
    const seen = sub.results.length;
    await app.live.rollupRows(cpuMem5min.name, [row(0, '10.0.0.1', 1, 11, false)]);
    await app.live.rollupRows(cpuMem5min.name, [row(0, '10.0.0.1', 1, 12, true), row(0, '10.0.0.2', 2, 25, true), row(5, '10.0.0.2', 2, 5, false)]);
    const last = await sub.next(seen + 1);
    expect(last.errors).toBeUndefined();
    expect(last.data?.cpuMemWindows).toEqual([
      { windowStart: '2026-11-22T09:00:00.000Z', ip: '10.0.0.2', pid: 2, cpuUsagePct: 25, samples: 3, final: true },
      { windowStart: '2026-11-22T09:05:00.000Z', ip: '10.0.0.2', pid: 2, cpuUsagePct: 5, samples: 3, final: false },
    ]);
    for (const r of sub.results) expect(r.data?.cpuMemWindows.every((w) => w['ip'] === '10.0.0.2')).toBe(true);
    await client.dispose();
  });

  it('ignores malformed messages on the channel and keeps delivering', async () => {
    const client = wsClient(base, auth);
    const sub = collect<{ cpuMemWindows: Array<Record<string, unknown>> }>(client, WINDOWS, { filter: { pid: 7, finalOnly: true } });
    await publishUntilReceived(sub, [row(0, '10.0.0.7', 7, 70, true)]);
    const seen = sub.results.length;
    for (const junk of [null, 'text', { rollup: 'cpu-mem-5min', rows: [{ windowStart: 'x' }] }, { rows: 3 }]) {
      app.live.pubSub.publish(rollupRowsTopic(cpuMem5min.name), junk);
    }
    await app.live.rollupRows(cpuMem5min.name, [row(5, '10.0.0.7', 7, 71, false), row(5, '10.0.0.7', 7, 72, true)]);
    const next = await sub.next(seen + 1);
    expect(next.data?.cpuMemWindows).toEqual([expect.objectContaining({ cpuUsagePct: 72, final: true })]);
    await client.dispose();
  });
});

describe('bad input', () => {
  it('answers a query, a syntax error and an unknown field with errors, and limits subscriptions per connection', async () => {
    const { ws, messages } = await rawSocket();
    const send = (m: unknown) => ws.send(JSON.stringify(m));
    const errorOf = async (id: string) => {
      await until(() => messages.some((m) => m['id'] === id));
      return messages.find((m) => m['id'] === id);
    };
    send({ id: 'q', type: 'subscribe', payload: { query: '{ regionOrderTotals { region } }' } });
    expect(await errorOf('q')).toMatchObject({ type: 'error', payload: [{ extensions: { code: 'METHOD_NOT_ALLOWED' } }] });
    send({ id: 's', type: 'subscribe', payload: { query: 'subscription {' } });
    expect(await errorOf('s')).toMatchObject({ type: 'error', payload: [{ extensions: { code: 'INVALID_PARAMETER' } }] });
    send({ id: 'u', type: 'subscribe', payload: { query: 'subscription { nope }' } });
    expect(await errorOf('u')).toMatchObject({ type: 'error', payload: [{ extensions: { code: 'INVALID_PARAMETER' } }] });
    const aliases = Array.from({ length: 150 }, (_, i) => `a${i}: ip`).join(' ');
    send({ id: 'al', type: 'subscribe', payload: { query: `subscription { cpuMemWindows { ${aliases} } }` } });
    expect(await errorOf('al')).toMatchObject({ type: 'error', payload: [{ message: expect.stringMatching(/at most 100 fields/), extensions: { code: 'INVALID_PARAMETER' } }] });
    send({ id: 'v', type: 'subscribe', payload: { query: WINDOWS, variables: { filter: { pid: 'x' } } } });
    expect(await errorOf('v')).toMatchObject({ type: 'next', payload: { errors: [{ extensions: { code: 'INVALID_PARAMETER' } }] } });
    // The limit is 2 here (GRAPHQL_WS_MAX_SUBSCRIPTIONS).
    send({ id: 'a', type: 'subscribe', payload: { query: WINDOWS } });
    send({ id: 'b', type: 'subscribe', payload: { query: WINDOWS } });
    send({ id: 'c', type: 'subscribe', payload: { query: WINDOWS } });
    expect(await errorOf('c')).toMatchObject({ type: 'error', payload: [{ extensions: { code: 'RATE_LIMITED' } }] });
    // Completing one makes room again.
    send({ id: 'a', type: 'complete' });
    send({ id: 'd', type: 'subscribe', payload: { query: WINDOWS } });
    while (!messages.some((m) => m['id'] === 'd')) {
      await app.live.rollupRows(cpuMem5min.name, [row(0, '10.0.0.9', 9, 1, false)]);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(messages.find((m) => m['id'] === 'd')).toMatchObject({ type: 'next', payload: { data: { cpuMemWindows: [{ ip: '10.0.0.9' }] } } });
    ws.close();
  });

  it('closes a connection that sends malformed messages, and serves the next one', async () => {
    const cases: Array<string | Buffer> = ['not json', '{"type":"what"}', '[]', '{"type":"subscribe","id":"x","payload":{"query":42}}', Buffer.from([1, 2, 3])];
    for (const data of cases) {
      const { ws, closed } = await rawSocket();
      ws.send(data);
      const { code } = await closed;
      expect(code, String(data)).toBe(4400);
    }
    const { ws, closed } = await rawSocket();
    ws.send('x'.repeat(70 * 1024));
    expect((await closed).code).toBe(1009); // message too big
    const client = wsClient(base, auth);
    const sub = collect(client, WINDOWS);
    await publishUntilReceived(sub, [row(0, '10.0.0.1', 1, 1, false)]);
    await client.dispose();
  });

  it('survives peers that reset the connection in the middle of an upgrade', async () => {
    const { port } = app.server.address() as AddressInfo;
    for (const path of ['/elsewhere', '/graphql']) {
      for (let i = 0; i < 20; i++) {
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        await new Promise((resolve) => socket.once('connect', resolve));
        socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n`);
        socket.resetAndDestroy();
      }
    }
    const client = wsClient(base, auth);
    const sub = collect(client, WINDOWS);
    await publishUntilReceived(sub, [row(0, '10.0.0.1', 1, 1, false)]);
    await client.dispose();
  });

  it('answers an upgrade on another path with 404', async () => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/api/cpu-mem-5min`, 'graphql-transport-ws');
    const status = await new Promise<number | undefined>((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.once('error', () => resolve(undefined));
    });
    expect(status).toBe(404);
  });
});

describe('beside HTTP', () => {
  it('answers a subscription sent over HTTP with METHOD_NOT_ALLOWED, not an empty result', async () => {
    for (const query of ['subscription { cpuMemWindows { ip } }', 'subscription { regionOrderTotalsChanged { region } }']) {
      const res = await app.inject({ method: 'POST', url: '/graphql', headers: { ...auth, 'content-type': 'application/json' }, payload: { query } });
      expect(res.json()).toMatchObject({ data: null, errors: [{ extensions: { code: 'METHOD_NOT_ALLOWED' } }] });
    }
  });

  it('counts connections, running subscriptions and refusals in /metrics, back to zero once closed', async () => {
    const metric = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec((await app.inject({ url: '/metrics' })).body)?.[1]);
    const client = wsClient(base, auth);
    const sub = collect(client, WINDOWS);
    await publishUntilReceived(sub, [row(0, '10.0.0.1', 1, 1, false)]);
    expect(await metric('rollgate_graphql_ws_connections')).toBeGreaterThanOrEqual(1);
    expect(await metric('rollgate_graphql_ws_subscriptions')).toBeGreaterThanOrEqual(1);
    expect(await metric('rollgate_graphql_ws_refused_total\\{code="UNAUTHENTICATED"\\}')).toBeGreaterThanOrEqual(2);
    await client.dispose();
    for (;;) {
      const [connections, subscriptions] = [await metric('rollgate_graphql_ws_connections'), await metric('rollgate_graphql_ws_subscriptions')];
      if (connections === 0 && subscriptions === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
});
