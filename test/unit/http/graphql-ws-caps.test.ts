import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';
import { adminHeaders, TEST_APP, testGateway } from '../../helpers/gateway.js';

/** A connection flood cannot hold the gateway: sockets are capped per process and authenticated connections per app. */
let store: DuckDbStore;
let app: Awaited<ReturnType<typeof testGateway>>;
let url: string;
let otherCode: string;
const open: WebSocket[] = [];

beforeAll(async () => {
  store = await DuckDbStore.open(':memory:');
  app = await testGateway(store, [], { GRAPHQL_WS_MAX_CONNECTIONS: '4', GRAPHQL_WS_MAX_CONNECTIONS_PER_APP: '2' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/graphql`;
  otherCode = (await app.inject({ method: 'POST', url: '/admin/apps', headers: adminHeaders, payload: { name: 'other', grants: [] } })).json().data.appCode;
});

afterAll(async () => {
  for (const ws of open) ws.terminate();
  await app.close();
  await store.close();
});

type Outcome = { kind: 'ack'; ws: WebSocket } | { kind: 'closed'; code: number; reason: string } | { kind: 'http'; status: number };

/** Opens a socket and sends connection_init with this appCode (none: never sends it). */
function connect(appCode: string | undefined): Promise<Outcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, 'graphql-transport-ws');
    open.push(ws);
    ws.on('unexpected-response', (_req, res) => resolve({ kind: 'http', status: res.statusCode ?? 0 }));
    ws.on('error', () => undefined);
    ws.on('open', () => {
      if (appCode === undefined) return resolve({ kind: 'ack', ws });
      ws.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `APPCODE ${appCode}` } }));
    });
    ws.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') resolve({ kind: 'ack', ws });
    });
    ws.on('close', (code, reason) => resolve({ kind: 'closed', code, reason: reason.toString() }));
  });
}

describe('graphql-ws connection caps', () => {
  it('closes the connection of an app over its cap with 4429, leaves other apps alone, and frees the slot on close', async () => {
    const first = await connect(TEST_APP.appCode);
    const second = await connect(TEST_APP.appCode);
    expect([first.kind, second.kind]).toEqual(['ack', 'ack']);
    const third = await connect(TEST_APP.appCode);
    expect(third).toMatchObject({ kind: 'closed', code: 4429 });
    expect(third.kind === 'closed' && third.reason).toMatch(/^RATE_LIMITED: .*GRAPHQL_WS_MAX_CONNECTIONS_PER_APP/);
    expect((await connect(otherCode)).kind).toBe('ack');
    if (first.kind === 'ack') first.ws.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await connect(TEST_APP.appCode)).kind).toBe('ack');
  });

  it('answers an upgrade beyond the process cap with 503, counting sockets that never authenticate', async () => {
    // Open now: two of TEST_APP and one of the other app; one silent socket makes four.
    expect((await connect(undefined)).kind).toBe('ack');
    expect(await connect(otherCode)).toEqual({ kind: 'http', status: 503 });
  });
});
