import fc from 'fast-check';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webPv5min } from '../../../aggregators/web-pv-5min.js';
import { createEventDecoder, messageKey } from '../../../src/core/event-schema.js';
import type { WebEvent } from '../../../src/core/web-event.js';
import { ErrorCodes, type ErrorCode } from '../../../src/errors.js';
import { registerMonitorRoutes } from '../../../src/http/monitor-routes.js';
import { MonitorCollector } from '../../../src/ingest/monitor/collector.js';
import { UploadRateLimiter } from '../../../src/ingest/monitor/rate-limits.js';
import type { OutgoingMessage } from '../../../src/ingest/topic-log.js';
import { silentLogger } from '../../helpers/gateway.js';

/**
 * /monitor/upload with the collector's real parsing, CORS and rate limits and
 * a recording producer in place of Kafka: every malformed request is a 4xx in
 * the envelope naming the field, never a 5xx, and nothing bad reaches the topic.
 */
const sent: OutgoingMessage[] = [];
const ORIGINS = { 'code-robot': ['https://robot.example'], open: '*' as const };

async function gateway(limits = { perIpPerMinute: 1_000_000, perAppPerMinute: 1_000_000 }, failSend = false): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: 1024 * 1024 });
  const collector = new MonitorCollector({
    producer: async () => ({
      send: async (_topic, messages) => {
        if (failSend) await new Promise((resolve) => setTimeout(resolve, 1000));
        sent.push(...messages);
      },
      close: async () => undefined,
    }),
    topic: 'web_events',
    limiter: new UploadRateLimiter(limits, { keyPrefix: 't:', logger: silentLogger }),
    origins: ORIGINS,
    ackTimeoutMs: 200,
    logger: silentLogger,
  });
  await registerMonitorRoutes(app, collector);
  await app.ready();
  return app;
}

let app: FastifyInstance;
beforeAll(async () => {
  app = await gateway();
});
afterAll(async () => {
  await app.close();
});

const now = Date.now();
const good = { appId: 'code-robot', pageId: 'home', eventType: 'pv', url: 'https://robot.example/', ua: 'Mozilla/5.0', timestamp: now, args: { name: 'xikun' } };

function post(body: string, contentType = 'text/plain;charset=UTF-8', headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: '/monitor/upload', payload: body, headers: { 'content-type': contentType, ...headers } });
}

function expectError(res: { statusCode: number; json(): unknown }, code: ErrorCode, field?: string): void {
  expect(res.statusCode, JSON.stringify(res.json())).toBe(ErrorCodes[code].httpStatus);
  const body = res.json() as { errCode: number; errMsg: string; data: null };
  expect(body.errCode).toBe(ErrorCodes[code].errCode);
  expect(body.data).toBeNull();
  if (field !== undefined) expect(body.errMsg).toContain(field);
}

describe('/monitor/upload accepts', () => {
  it('a sendBeacon POST (text/plain JSON) with 204, and the event reaches the topic keyed for web-pv-5min', async () => {
    sent.length = 0;
    const res = await post(JSON.stringify(good), 'text/plain;charset=UTF-8', { origin: 'https://robot.example' });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect(res.headers['access-control-allow-origin']).toBe('https://robot.example');
    expect(sent).toHaveLength(1);
    const event = JSON.parse(String(sent[0]!.value)) as WebEvent;
    expect(event).toMatchObject({ app_id: 'code-robot', page_id: 'home', event_type: 'pv', url: good.url, ua: good.ua, timestamp: now, args: '{"name":"xikun"}' });
    // What the rollup's own decoder reads from it, with the key it expects.
    const decoded = createEventDecoder(webPv5min)(Buffer.from(String(sent[0]!.value)), now);
    expect(decoded.ok).toBe(true);
    if (decoded.ok) expect(sent[0]!.key).toBe(messageKey(webPv5min, decoded.event));
  });

  it('a batch array, application/json, and the seed-003 GET with args as JSON text', async () => {
    sent.length = 0;
    const batch = [good, { ...good, pageId: 'cart', eventType: 'click', args: { uid: 'visitor-1' } }];
    expect((await post(JSON.stringify(batch), 'application/json')).statusCode).toBe(204);
    const query = new URLSearchParams({ appId: 'open', pageId: 'home', eventType: 'exp', url: 'http://localhost:1234/', args: '{"a":1}', timestamp: String(now) });
    const res = await app.inject({ method: 'GET', url: `/monitor/upload?${query.toString()}`, headers: { 'user-agent': 'UA-from-header' } });
    expect(res.statusCode).toBe(204);
    expect(sent).toHaveLength(3);
    const events = sent.map((m) => JSON.parse(String(m.value)) as WebEvent);
    expect(events[1]!.visitor_id).toBe('u:visitor-1');
    expect(events[0]!.visitor_id).toMatch(/^h:[0-9a-f]{32}$/);
    expect(events[2]).toMatchObject({ app_id: 'open', ua: 'UA-from-header', args: '{"a":1}' });
    expect(new Set(events.map((e) => e.event_id)).size).toBe(3);
  });

  it('keeps a client event id, so a retried upload is one row in the raw table', async () => {
    sent.length = 0;
    await post(JSON.stringify({ ...good, eventId: 'abc-12345678' }));
    expect((JSON.parse(String(sent[0]!.value)) as WebEvent).event_id).toBe('abc-12345678');
  });

  it('answers CORS preflights (no body, so no appId) for an origin some app allows; the upload itself checks its app', async () => {
    const ok = await app.inject({ method: 'OPTIONS', url: '/monitor/upload', headers: { origin: 'https://robot.example', 'access-control-request-method': 'POST' } });
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://robot.example');
    // 'open' takes any origin, so the preflight passes; the POST for code-robot is refused (see the table below).
    const any = await app.inject({ method: 'OPTIONS', url: '/monitor/upload', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(any.headers['access-control-allow-origin']).toBe('https://evil.example');
  });
});

const omit = (k: string) => Object.fromEntries(Object.entries(good).filter(([key]) => key !== k));

describe('/monitor/upload rejects', () => {
  const cases: Array<{ name: string; body: string; code: ErrorCode; field: string; headers?: Record<string, string> }> = [
    { name: 'empty body', body: '', code: 'MISSING_PARAMETER', field: 'body' },
    { name: 'not JSON', body: '{"appId":', code: 'INVALID_PARAMETER', field: 'body' },
    { name: 'a JSON string', body: '"hello"', code: 'INVALID_PARAMETER', field: 'body' },
    { name: 'null', body: 'null', code: 'INVALID_PARAMETER', field: 'body' },
    { name: 'an empty batch', body: '[]', code: 'INVALID_PARAMETER', field: 'body' },
    { name: 'a batch of 101', body: JSON.stringify(Array(101).fill(good)), code: 'PAYLOAD_TOO_LARGE', field: 'body' },
    { name: 'a number in a batch', body: JSON.stringify([good, 5]), code: 'INVALID_PARAMETER', field: 'events[1]' },
    { name: 'no appId', body: JSON.stringify(omit('appId')), code: 'MISSING_PARAMETER', field: 'appId' },
    { name: 'no pageId and no url', body: JSON.stringify({ appId: 'open', eventType: 'pv' }), code: 'MISSING_PARAMETER', field: 'pageId, url are required' },
    { name: 'missing in a batch', body: JSON.stringify([good, omit('eventType')]), code: 'MISSING_PARAMETER', field: 'events[1].eventType' },
    { name: 'numeric pageId', body: JSON.stringify({ ...good, pageId: 7 }), code: 'INVALID_PARAMETER', field: 'pageId' },
    { name: 'appId with a space', body: JSON.stringify({ ...good, appId: 'a b' }), code: 'INVALID_PARAMETER', field: 'appId' },
    { name: 'appId too long', body: JSON.stringify({ ...good, appId: 'a'.repeat(65) }), code: 'INVALID_PARAMETER', field: 'appId' },
    { name: 'pageId too long', body: JSON.stringify({ ...good, pageId: 'p'.repeat(256) }), code: 'INVALID_PARAMETER', field: 'pageId' },
    { name: 'control characters', body: JSON.stringify({ ...good, pageId: 'a\nb' }), code: 'INVALID_PARAMETER', field: 'pageId' },
    { name: 'relative url', body: JSON.stringify({ ...good, url: '/home' }), code: 'INVALID_PARAMETER', field: 'url' },
    { name: 'javascript: url', body: JSON.stringify({ ...good, url: 'javascript:alert(1)' }), code: 'INVALID_PARAMETER', field: 'url' },
    { name: 'ua too long', body: JSON.stringify({ ...good, ua: 'u'.repeat(513) }), code: 'INVALID_PARAMETER', field: 'ua' },
    { name: 'timestamp as words', body: JSON.stringify({ ...good, timestamp: 'yesterday' }), code: 'INVALID_PARAMETER', field: 'timestamp' },
    { name: 'timestamp fractional', body: JSON.stringify({ ...good, timestamp: 1.5 }), code: 'INVALID_PARAMETER', field: 'timestamp' },
    { name: 'timestamp far future', body: JSON.stringify({ ...good, timestamp: now + 86_400_000 }), code: 'INVALID_PARAMETER', field: 'timestamp' },
    { name: 'timestamp in seconds', body: JSON.stringify({ ...good, timestamp: Math.floor(now / 1000) }), code: 'INVALID_PARAMETER', field: 'timestamp' },
    { name: 'args an array', body: JSON.stringify({ ...good, args: [1] }), code: 'INVALID_PARAMETER', field: 'args' },
    { name: 'args bad JSON text', body: JSON.stringify({ ...good, args: '{x' }), code: 'INVALID_PARAMETER', field: 'args' },
    { name: 'args over 4 KiB', body: JSON.stringify({ ...good, args: { blob: 'x'.repeat(5000) } }), code: 'PAYLOAD_TOO_LARGE', field: 'args' },
    { name: 'args.uid not a string', body: JSON.stringify({ ...good, args: { uid: 5 } }), code: 'INVALID_PARAMETER', field: 'args.uid' },
    { name: 'bad eventId', body: JSON.stringify({ ...good, eventId: 'x' }), code: 'INVALID_PARAMETER', field: 'eventId' },
    { name: 'body over 64 KiB', body: JSON.stringify(Array(30).fill({ ...good, args: { blob: 'x'.repeat(3000) } })), code: 'PAYLOAD_TOO_LARGE' , field: 'body' },
    { name: 'unknown appId', body: JSON.stringify({ ...good, appId: 'stranger' }), code: 'FORBIDDEN', field: 'appId' },
    { name: 'origin not allowed for the app', body: JSON.stringify(good), code: 'FORBIDDEN', field: 'appId', headers: { origin: 'https://evil.example' } },
  ];
  it.each(cases)('$name: $code naming $field', async ({ body, code, field, headers }) => {
    sent.length = 0;
    const res = await post(body, 'text/plain', headers);
    expectError(res, code, field);
    expect(sent).toHaveLength(0);
  });

  it('GET with a field missing, repeated, or an oversized query string', async () => {
    expectError(await app.inject({ method: 'GET', url: '/monitor/upload?appId=open&pageId=home' }), 'MISSING_PARAMETER', 'eventType, url are required');
    expectError(await app.inject({ method: 'GET', url: '/monitor/upload?appId=open&appId=x&pageId=h&eventType=pv&url=http://a/' }), 'INVALID_PARAMETER', 'appId');
    expectError(await app.inject({ method: 'GET', url: `/monitor/upload?appId=open&pageId=h&eventType=pv&url=http://a/&args=${'x'.repeat(70_000)}` }), 'PAYLOAD_TOO_LARGE');
  });

  it('never answers 5xx to arbitrary input (fuzz)', async () => {
    const fieldValue = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string()), fc.dictionary(fc.string(), fc.string()));
    const event = fc.record(
      { appId: fc.oneof(fc.constant('open'), fieldValue), pageId: fieldValue, eventType: fieldValue, url: fc.oneof(fc.webUrl(), fieldValue), ua: fieldValue, timestamp: fc.oneof(fc.constant(now), fieldValue), args: fieldValue, eventId: fieldValue },
      { requiredKeys: [] },
    );
    const body = fc.oneof(fc.string(), fc.json(), event.map((e) => JSON.stringify(e)), fc.array(event, { maxLength: 5 }).map((e) => JSON.stringify(e)));
    const contentType = fc.constantFrom('text/plain', 'application/json', 'application/x-www-form-urlencoded', 'application/octet-stream');
    await fc.assert(
      fc.asyncProperty(body, contentType, async (payload, type) => {
        const res = await post(payload, type);
        expect(res.statusCode === 204 || (res.statusCode >= 400 && res.statusCode < 500), `${res.statusCode} ${res.body}`).toBe(true);
        if (res.statusCode !== 204) expect((res.json() as { errCode: number }).errCode).toBeGreaterThan(0);
      }),
      { numRuns: 400 },
    );
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom('appId', 'pageId', 'eventType', 'url', 'ua', 'timestamp', 'args', 'x'), fc.string()), async (q) => {
        const res = await app.inject({ method: 'GET', url: `/monitor/upload?${new URLSearchParams(q).toString()}` });
        expect(res.statusCode === 204 || (res.statusCode >= 400 && res.statusCode < 500), `${res.statusCode} ${res.body}`).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('/monitor/upload limits', () => {
  it('answers 429 RATE_LIMITED with Retry-After past the per-IP and per-app limits', async () => {
    const limited = await gateway({ perIpPerMinute: 3, perAppPerMinute: 1000 });
    const send = () => limited.inject({ method: 'POST', url: '/monitor/upload', payload: JSON.stringify(good), headers: { 'content-type': 'text/plain' } });
    for (let i = 0; i < 3; i++) expect((await send()).statusCode).toBe(204);
    const res = await send();
    expectError(res, 'RATE_LIMITED');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    await limited.close();
    const perApp = await gateway({ perIpPerMinute: 1000, perAppPerMinute: 2 });
    const batch = await perApp.inject({ method: 'POST', url: '/monitor/upload', payload: JSON.stringify([good, good, good]), headers: { 'content-type': 'text/plain' } });
    expectError(batch, 'RATE_LIMITED', 'appId');
    await perApp.close();
  });

  it('answers 503 while the producer cannot be opened (Kafka down at start), and accepts once it can', async () => {
    let kafkaUp = false;
    const collector = new MonitorCollector({
      producer: async () => {
        if (!kafkaUp) throw new Error('connection refused');
        return { send: async () => undefined, close: async () => undefined };
      },
      topic: 'web_events',
      limiter: new UploadRateLimiter({ perIpPerMinute: 100, perAppPerMinute: 100 }, { keyPrefix: 'k:', logger: silentLogger }),
      origins: undefined,
      ackTimeoutMs: 1000,
      logger: silentLogger,
    });
    const late = Fastify();
    await registerMonitorRoutes(late, collector);
    const send = () => late.inject({ method: 'POST', url: '/monitor/upload', payload: JSON.stringify(good), headers: { 'content-type': 'text/plain' } });
    expectError(await send(), 'DEPENDENCY_UNAVAILABLE');
    kafkaUp = true;
    expect((await send()).statusCode).toBe(204);
    await late.close();
  });

  it('answers 503 DEPENDENCY_UNAVAILABLE when Kafka does not acknowledge in time', async () => {
    const slow = await gateway(undefined, true);
    const res = await slow.inject({ method: 'POST', url: '/monitor/upload', payload: JSON.stringify(good), headers: { 'content-type': 'text/plain' } });
    expectError(res, 'DEPENDENCY_UNAVAILABLE');
    await slow.close();
  });
});
