import { md5 } from '@noble/hashes/legacy';

/**
 * The Alibaba Cloud API Gateway signature the gateway verifies
 * (src/auth/signature.ts), with WebCrypto so it runs in browsers and Node alike:
 *
 *   METHOD\n Accept\n Content-MD5\n Content-Type\n Date\n
 *   key:value\n            (each header named in X-Ca-Signature-Headers, lower-cased, sorted)
 *   path[?k=v&k2&…]        (query and form parameters sorted by key; an empty value is the bare key)
 *
 * X-Ca-Signature = Base64(HmacSHA256(appSecret, stringToSign)).
 */
export interface RequestToSign {
  method: string;
  /** The path exactly as sent (percent-encoded), without the query string. */
  path: string;
  /** Lower-case header names; those starting with `x-ca-` are signed. */
  headers: Record<string, string>;
  /** Query parameters (decoded), repeated keys in order. */
  query: ReadonlyArray<readonly [string, string]>;
  /** Fields of an application/x-www-form-urlencoded body (decoded); empty otherwise. */
  form: ReadonlyArray<readonly [string, string]>;
}

const FORM = 'application/x-www-form-urlencoded';

export function stringToSign(req: RequestToSign, signedHeaders: readonly string[]): string {
  const h = (name: string) => req.headers[name] ?? '';
  const lines = [req.method.toUpperCase(), h('accept'), h('content-md5'), h('content-type'), h('date')];
  const headerBlock = signedHeaders.map((name) => `${name}:${h(name)}\n`).join('');
  return `${lines.join('\n')}\n${headerBlock}${pathAndParams(req)}`;
}

function pathAndParams(req: RequestToSign): string {
  // A form field overrides a query parameter of the same key; repeated keys are signed joined by ",".
  const params = new Map([...grouped(req.query), ...grouped(req.form)]);
  if (params.size === 0) return req.path;
  const keys = [...params.keys()].sort();
  return `${req.path}?${keys.map((k) => (params.get(k) === '' ? k : `${k}=${params.get(k) ?? ''}`)).join('&')}`;
}

function grouped(pairs: ReadonlyArray<readonly [string, string]>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of pairs) {
    const before = out.get(k);
    out.set(k, before === undefined ? v : `${before},${v}`);
  }
  return out;
}

/** Base64(HmacSHA256(secret, text)) with WebCrypto (Node 20's global `crypto`, or the browser's; a secure context there). */
export async function hmacSha256Base64(secret: string, text: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return toBase64(new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(text))));
}

/** Content-MD5: Base64(MD5(body)). WebCrypto has no MD5, so @noble/hashes computes it. */
export function contentMd5(body: Uint8Array): string {
  return toBase64(md5(body));
}

/** A nonce for X-Ca-Nonce: 128 random bits as hex (getRandomValues, which unlike randomUUID needs no secure context). */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Adds X-Ca-Key, X-Ca-Timestamp, X-Ca-Nonce, Content-MD5 (for a body that is
 * not a form), X-Ca-Signature-Headers and X-Ca-Signature to `req.headers`.
 * Called once per attempt: a retry needs a fresh nonce, or the gateway refuses it as a replay.
 */
export async function signRequest(
  req: Omit<RequestToSign, 'form'> & { body: Uint8Array | undefined },
  credentials: { appKey: string; appSecret: string },
  now: number = Date.now(),
): Promise<Record<string, string>> {
  const headers: Record<string, string> = { ...req.headers };
  headers['x-ca-key'] = credentials.appKey;
  headers['x-ca-timestamp'] = String(now);
  headers['x-ca-nonce'] = newNonce();
  const contentType = (headers['content-type'] ?? '').toLowerCase();
  const isForm = contentType.startsWith(FORM);
  if (req.body !== undefined && req.body.length > 0 && !isForm) headers['content-md5'] = contentMd5(req.body);
  const signed = Object.keys(headers)
    .filter((k) => k.startsWith('x-ca-'))
    .sort();
  headers['x-ca-signature-headers'] = signed.join(',');
  const form = isForm && req.body !== undefined ? [...new URLSearchParams(new TextDecoder().decode(req.body))] : [];
  const text = stringToSign({ ...req, headers, form }, signed);
  headers['x-ca-signature'] = await hmacSha256Base64(credentials.appSecret, text);
  return headers;
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}
