import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbStore } from '../../../src/store/duckdb-store.js';
import { testGateway, TEST_APP } from '../../helpers/gateway.js';

/**
 * A client that sends its request slowly (slowloris: headers, or a body, a byte at a time) must not hold a
 * socket and a body buffer forever: after HTTP_REQUEST_TIMEOUT_MS the server answers 408 or closes.
 */
let store: DuckDbStore;
let app: FastifyInstance;
let port: number;

beforeAll(async () => {
  store = await DuckDbStore.open(':memory:');
  app = await testGateway(store, [], { HTTP_REQUEST_TIMEOUT_MS: '1500' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await app?.close();
  await store?.close();
});

/** Writes `head`, then one byte every 200 ms and never the rest; resolves with what the server sent and when it hung up. */
function trickle(head: string): Promise<{ answer: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket: Socket = connect(port, '127.0.0.1', () => socket.write(head));
    let answer = '';
    const drip = setInterval(() => socket.writable && socket.write('a'), 200);
    const giveUp = setTimeout(() => {
      clearInterval(drip);
      socket.destroy();
      reject(new Error(`still open after 20 s; got ${JSON.stringify(answer)}`));
    }, 20_000);
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(drip);
      clearTimeout(giveUp);
      resolve({ answer, closedAfterMs: Date.now() - started });
    });
  });
}

describe('slow clients', () => {
  it('a body that never completes is cut off with 408', async () => {
    const { answer } = await trickle(
      `POST /auth/token HTTP/1.1\r\nHost: x\r\nAuthorization: APPCODE ${TEST_APP.appCode}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"a":"`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  it('headers that never complete are cut off too', async () => {
    const { answer, closedAfterMs } = await trickle('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    expect(closedAfterMs).toBeGreaterThan(1000);
    expect(answer === '' || /^HTTP\/1\.1 408/.test(answer)).toBe(true);
  });

  it('a complete request on the same server is answered as usual', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(200);
  });
});

describe('clients that hang up', () => {
  it('closing the connection in the middle of a body is logged as information, not as an error', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
    const own = await DuckDbStore.open(':memory:');
    const gateway = await testGateway(own, [], {}, logger);
    await gateway.listen({ host: '127.0.0.1', port: 0 });
    const at = (gateway.server.address() as AddressInfo).port;
    try {
      for (const path of ['/auth/token', '/graphql', '/dataflow/flow/flows/create/']) {
        await new Promise<void>((resolve) => {
          const socket = connect(at, '127.0.0.1', () => {
            socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: APPCODE ${TEST_APP.appCode}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":`);
            setTimeout(() => {
              socket.destroy();
              resolve();
            }, 100);
          });
          socket.on('error', () => undefined);
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(lines.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
      expect(lines.filter((l) => l.msg.startsWith('client closed the connection'))).toHaveLength(3);
    } finally {
      await gateway.close();
      await own.close();
    }
  });
});

describe('connection floods', () => {
  it('past HTTP_MAX_CONNECTIONS new sockets are closed at once, and served again once others close', async () => {
    const own = await DuckDbStore.open(':memory:');
    const gateway = await testGateway(own, [], { HTTP_MAX_CONNECTIONS: '3' });
    await gateway.listen({ host: '127.0.0.1', port: 0 });
    const at = (gateway.server.address() as AddressInfo).port;
    const idle: Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        idle.push(await new Promise<Socket>((resolve) => {
          const s = connect(at, '127.0.0.1', () => resolve(s));
          s.on('error', () => undefined);
        }));
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      const refused = await new Promise<string>((resolve) => {
        const s = connect(at, '127.0.0.1', () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
        let got = '';
        s.on('data', (d: Buffer) => (got += d.toString()));
        s.on('error', () => undefined);
        s.on('close', () => resolve(got));
      });
      expect(refused).toBe('');
      for (const s of idle.splice(0)) s.destroy();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await fetch(`http://127.0.0.1:${at}/healthz`)).status).toBe(200);
    } finally {
      for (const s of idle) s.destroy();
      await gateway.close();
      await own.close();
    }
  });
});
