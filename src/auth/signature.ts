import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The Alibaba Cloud API Gateway signature scheme, pure: what a request looks
 * like to the verifier, the string to sign, and the signature over it.
 *
 *   METHOD\n Accept\n Content-MD5\n Content-Type\n Date\n
 *   key:value\n            (each header named in X-Ca-Signature-Headers, lower-cased, sorted)
 *   path[?k=v&k2&…]        (query and form parameters sorted by key; an empty value is the bare key)
 *
 * X-Ca-Signature = Base64(HmacSHA256(appSecret, stringToSign)).
 */
export interface SignedRequest {
  method: string;
  /** The path as sent, without the query string and not decoded. */
  path: string;
  /** Header names lower-cased (Node's `IncomingMessage.headers`). */
  headers: Record<string, string | string[] | undefined>;
  /** Query parameters, decoded; repeated keys in order. */
  query: ReadonlyArray<readonly [string, string]>;
  /** Parameters of an `application/x-www-form-urlencoded` body, decoded; empty otherwise. */
  form: ReadonlyArray<readonly [string, string]>;
}

/** Headers that have their own line, or are the signature itself: never part of the signed-header block. */
const NOT_IN_HEADER_BLOCK = new Set(['x-ca-signature', 'x-ca-signature-headers', 'accept', 'content-md5', 'content-type', 'date']);

export function header(headers: SignedRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** The lower-cased header names listed in X-Ca-Signature-Headers, sorted and without duplicates. */
export function signedHeaderNames(headers: SignedRequest['headers']): string[] {
  const listed = (header(headers, 'x-ca-signature-headers') ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h.length > 0 && !NOT_IN_HEADER_BLOCK.has(h));
  return [...new Set(listed)].sort();
}

export function stringToSign(req: SignedRequest): string {
  const h = (name: string) => header(req.headers, name) ?? '';
  const lines = [req.method.toUpperCase(), h('accept'), h('content-md5'), h('content-type'), h('date')];
  const headerBlock = signedHeaderNames(req.headers).map((name) => `${name}:${h(name)}\n`).join('');
  return `${lines.join('\n')}\n${headerBlock}${pathAndParams(req)}`;
}

function pathAndParams(req: SignedRequest): string {
  // A form value overrides a query value of the same key, as the reference clients merge them.
  const params = new Map([...grouped(req.query), ...grouped(req.form)]);
  if (params.size === 0) return req.path;
  const keys = [...params.keys()].sort();
  return `${req.path}?${keys.map((k) => (params.get(k) === '' ? k : `${k}=${params.get(k) ?? ''}`)).join('&')}`;
}

/** Repeated keys joined with "," (what the Node reference client signs for a list). */
function grouped(pairs: ReadonlyArray<readonly [string, string]>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of pairs) {
    const before = out.get(k);
    out.set(k, before === undefined ? v : `${before},${v}`);
  }
  return out;
}

export function sign(secret: string, text: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(text, 'utf8').digest('base64');
}

/** Timing-safe comparison of a presented signature with the expected one (hashed first: equal lengths). */
export function signaturesMatch(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** Base64(MD5(body)), the Content-MD5 of a body. */
export function contentMd5(body: Buffer): string {
  return createHash('md5').update(body).digest('base64');
}

/**
 * The string to sign as the API Gateway puts it in X-Ca-Error-Message: newlines
 * as `#`, and anything outside printable ASCII percent-encoded, so any request
 * (however malformed) yields a legal header value.
 */
export function forErrorHeader(text: string): string {
  return text.replace(/\n/g, '#').replace(/[^\x20-\x7e]/gu, (c) => encodeURIComponent(c));
}
