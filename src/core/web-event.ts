import { createHash, randomUUID } from 'node:crypto';
import { RollgateError, invalidParameter } from '../errors.js';

/**
 * Seed 003's upload: `appId`, `pageId`, `eventType`, `ua`, `timestamp`, `url`
 * and `args` (JSON), checked and turned into the `web_events` payload. Pure
 * apart from the event id it makes up when the client sent none.
 */

/** What `web_events` carries, one JSON object per message (schema/events/web_events.json). */
export interface WebEvent {
  event_id: string;
  app_id: string;
  page_id: string;
  event_type: string;
  visitor_id: string;
  ua: string;
  url: string;
  /** The args object as JSON text. */
  args: string;
  /** Event time, epoch ms: the client's `timestamp`, or the arrival time when it sent none. */
  timestamp: number;
  received_at: number;
}

export interface UploadContext {
  receivedAt: number;
  clientIp: string;
  /** The request's User-Agent header: the `ua` of events that name none. */
  userAgent: string | undefined;
}

export const UPLOAD_LIMITS = {
  /** Whole request body (POST) or query string (GET); larger is 413. */
  bodyBytes: 64 * 1024,
  batchEvents: 100,
  appId: 64,
  pageId: 255,
  eventType: 64,
  url: 2048,
  ua: 512,
  /** The args object as JSON; larger is 413. */
  argsBytes: 4096,
  uid: 128,
  /** Event times accepted around the arrival time. */
  maxPastMs: 7 * 86_400_000,
  maxFutureMs: 3_600_000,
} as const;

export const REQUIRED_FIELDS = ['appId', 'pageId', 'eventType', 'url'] as const;

const APP_ID = /^[A-Za-z0-9._-]+$/;
const EVENT_TYPE = /^[A-Za-z0-9._:-]+$/;
const EVENT_ID = /^[A-Za-z0-9_-]{8,64}$/;

/**
 * Events from a POST body: one JSON object or an array of them (a
 * `navigator.sendBeacon` batch), whatever the content type said.
 */
export function parseUploadBody(body: string, ctx: UploadContext): WebEvent[] {
  if (Buffer.byteLength(body) > UPLOAD_LIMITS.bodyBytes) {
    throw new RollgateError('PAYLOAD_TOO_LARGE', `the body is larger than ${UPLOAD_LIMITS.bodyBytes} bytes`, { field: 'body' });
  }
  if (body.trim() === '') throw new RollgateError('MISSING_PARAMETER', `body is required: a JSON object with ${REQUIRED_FIELDS.join(', ')}, or an array of them`, { field: 'body' });
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw invalidParameter('body', 'body: must be a JSON object or an array of JSON objects');
  }
  if (Array.isArray(parsed)) {
    if (parsed.length === 0) throw invalidParameter('body', 'body: the batch is empty');
    if (parsed.length > UPLOAD_LIMITS.batchEvents) {
      throw new RollgateError('PAYLOAD_TOO_LARGE', `body: a batch holds at most ${UPLOAD_LIMITS.batchEvents} events, got ${parsed.length}`, { field: 'body' });
    }
    return parsed.map((item, i) => parseUploadEvent(item, ctx, `events[${i}].`));
  }
  return [parseUploadEvent(parsed, ctx, '')];
}

/** Events from a GET query string (already decoded into name → value(s)). */
export function parseUploadQuery(query: Record<string, unknown>, rawQueryLength: number, ctx: UploadContext): WebEvent[] {
  if (rawQueryLength > UPLOAD_LIMITS.bodyBytes) {
    throw new RollgateError('PAYLOAD_TOO_LARGE', `the query string is larger than ${UPLOAD_LIMITS.bodyBytes} bytes`, { field: 'query' });
  }
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value)) throw invalidParameter(name, `${name}: must be given once`);
  }
  return [parseUploadEvent(query, ctx, '')];
}

/** One event; `at` prefixes field names in messages (`events[3].pageId`). */
export function parseUploadEvent(input: unknown, ctx: UploadContext, at: string): WebEvent {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalidParameter(at === '' ? 'body' : at.slice(0, -1), `${at === '' ? 'body' : at.slice(0, -1)}: must be a JSON object`);
  }
  const record = input as Record<string, unknown>;
  const missing = REQUIRED_FIELDS.filter((f) => record[f] === undefined || record[f] === null || record[f] === '');
  if (missing.length > 0) {
    const names = missing.map((f) => at + f);
    throw new RollgateError('MISSING_PARAMETER', `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} required`, { field: names[0] });
  }
  const appId = text(record, 'appId', at, UPLOAD_LIMITS.appId);
  if (!APP_ID.test(appId)) throw invalidParameter(at + 'appId', `${at}appId: only letters, digits, ".", "_" and "-"`);
  const pageId = text(record, 'pageId', at, UPLOAD_LIMITS.pageId);
  const eventType = text(record, 'eventType', at, UPLOAD_LIMITS.eventType);
  if (!EVENT_TYPE.test(eventType)) throw invalidParameter(at + 'eventType', `${at}eventType: only letters, digits, ".", "_", ":" and "-"`);
  const url = text(record, 'url', at, UPLOAD_LIMITS.url);
  if (!isHttpUrl(url)) throw invalidParameter(at + 'url', `${at}url: must be an absolute http(s) URL`);
  const ua = record['ua'] === undefined || record['ua'] === '' ? (ctx.userAgent ?? '').slice(0, UPLOAD_LIMITS.ua) : text(record, 'ua', at, UPLOAD_LIMITS.ua);
  const timestamp = eventTime(record['timestamp'], ctx.receivedAt, at);
  const args = argsOf(record['args'], at);
  const eventId = record['eventId'];
  if (eventId !== undefined && (typeof eventId !== 'string' || !EVENT_ID.test(eventId))) {
    throw invalidParameter(at + 'eventId', `${at}eventId: 8 to 64 letters, digits, "_" or "-"`);
  }
  return {
    event_id: eventId ?? randomUUID(),
    app_id: appId,
    page_id: pageId,
    event_type: eventType,
    visitor_id: visitorId(args.object, ua, ctx.clientIp, at),
    ua,
    url,
    args: args.json,
    timestamp,
    received_at: ctx.receivedAt,
  };
}

/**
 * Who a visitor is: the `uid` the client keeps in `args` (the snippet keeps a
 * random one in localStorage), else a hash of user agent and client IP, so
 * the raw IP is never stored.
 */
export function visitorId(args: Record<string, unknown>, ua: string, clientIp: string, at = ''): string {
  const uid = args['uid'];
  if (uid !== undefined) {
    if (typeof uid !== 'string' || uid === '' || uid.length > UPLOAD_LIMITS.uid) {
      throw invalidParameter(`${at}args.uid`, `${at}args.uid: a string of 1 to ${UPLOAD_LIMITS.uid} characters`);
    }
    return `u:${uid}`;
  }
  return `h:${createHash('sha256').update(`${ua}\n${clientIp}`).digest('hex').slice(0, 32)}`;
}

function text(record: Record<string, unknown>, name: string, at: string, maxLength: number): string {
  const value = record[name];
  if (typeof value !== 'string') throw invalidParameter(at + name, `${at}${name}: must be a string`);
  if (value.length > maxLength) throw invalidParameter(at + name, `${at}${name}: at most ${maxLength} characters`);
  if (!value.isWellFormed() || hasControlCharacters(value)) throw invalidParameter(at + name, `${at}${name}: contains control characters or broken UTF-16`);
  return value;
}

function hasControlCharacters(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

function eventTime(value: unknown, receivedAt: number, at: string): number {
  if (value === undefined || value === null || value === '') return receivedAt;
  const ms = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(ms)) throw invalidParameter(`${at}timestamp`, `${at}timestamp: must be epoch milliseconds`);
  if (ms < receivedAt - UPLOAD_LIMITS.maxPastMs || ms > receivedAt + UPLOAD_LIMITS.maxFutureMs) {
    throw invalidParameter(`${at}timestamp`, `${at}timestamp: more than 7 days old or 1 hour ahead of the server clock`);
  }
  return ms;
}

/** args as seed 003 sends it: an object, or (in a query string) its JSON text. */
function argsOf(value: unknown, at: string): { object: Record<string, unknown>; json: string } {
  if (value === undefined || value === null || value === '') return { object: {}, json: '{}' };
  let object: unknown = value;
  if (typeof value === 'string') {
    if (Buffer.byteLength(value) > UPLOAD_LIMITS.argsBytes) throw argsTooLarge(at);
    try {
      object = JSON.parse(value);
    } catch {
      throw invalidParameter(`${at}args`, `${at}args: must be a JSON object`);
    }
  }
  if (typeof object !== 'object' || object === null || Array.isArray(object)) throw invalidParameter(`${at}args`, `${at}args: must be a JSON object`);
  const json = JSON.stringify(object);
  if (!json.isWellFormed()) throw invalidParameter(`${at}args`, `${at}args: contains broken UTF-16`);
  if (Buffer.byteLength(json) > UPLOAD_LIMITS.argsBytes) throw argsTooLarge(at);
  return { object: object as Record<string, unknown>, json };
}

function argsTooLarge(at: string): RollgateError {
  return new RollgateError('PAYLOAD_TOO_LARGE', `${at}args: at most ${UPLOAD_LIMITS.argsBytes} bytes of JSON`, { field: `${at}args` });
}

/** The message key `web-pv-5min` expects: its key fields joined with `:`. */
export function webEventKey(event: WebEvent): string {
  return `${event.app_id}:${event.page_id}:${event.event_type}`;
}
