import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contentMd5 as serverMd5, sign, stringToSign as serverStringToSign } from '../../../src/auth/signature.js';
import { contentMd5, hmacSha256Base64, signRequest } from '../../../sdk/src/signature.js';

/** The SDK signs with WebCrypto; the gateway verifies with node:crypto (src/auth/signature.ts). They must agree on every request. */
const SECRET = 'sdk-unit-secret-0123456789abcdef';
const credentials = { appKey: 'sdk-unit-key', appSecret: SECRET };

async function verifiedByServer(method: 'GET' | 'POST', url: URL, headers: Record<string, string>, body?: string): Promise<boolean> {
  const contentType = headers['content-type'] ?? '';
  const form = contentType.startsWith('application/x-www-form-urlencoded') && body !== undefined ? [...new URLSearchParams(body)] : [];
  const expected = serverStringToSign({ method, path: url.pathname, headers, query: [...url.searchParams], form });
  if (body !== undefined && form.length === 0 && headers['content-md5'] !== serverMd5(Buffer.from(body, 'utf8'))) return false;
  return headers['x-ca-signature'] === sign(SECRET, expected);
}

describe('SDK signature (WebCrypto) against the gateway verifier', () => {
  it('HMAC-SHA256 matches RFC 4231 test case 2, and Content-MD5 matches the server', async () => {
    expect(await hmacSha256Base64('Jefe', 'what do ya want for nothing?')).toBe(sign('Jefe', 'what do ya want for nothing?'));
    const body = new TextEncoder().encode('{"region":["south","北"]}');
    expect(contentMd5(body)).toBe(serverMd5(Buffer.from(body)));
  });

  it('signs a GET with any query (repeated keys, empty values, unicode, reserved characters) as the server verifies it', async () => {
    const key = fc.string({ minLength: 1, maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(key, fc.string({ maxLength: 12 })), { maxLength: 6 }), async (pairs) => {
        const url = new URL('http://gw.test/api/cpu-mem-5min');
        for (const [k, v] of pairs) url.searchParams.append(k, v);
        const headers = await signRequest({ method: 'GET', path: url.pathname, headers: { accept: 'application/json' }, query: [...url.searchParams], body: undefined }, credentials);
        expect(await verifiedByServer('GET', url, headers)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('signs a JSON POST with Content-MD5, and a form POST with its fields in the string to sign', async () => {
    const url = new URL('http://gw.test/api/shop/sales?pageSize=2');
    const json = '{"region":["south"]}';
    const jsonHeaders = await signRequest(
      { method: 'POST', path: url.pathname, headers: { accept: 'application/json', 'content-type': 'application/json' }, query: [...url.searchParams], body: new TextEncoder().encode(json) },
      credentials,
    );
    expect(jsonHeaders['content-md5']).toBeDefined();
    expect(await verifiedByServer('POST', url, jsonHeaders, json)).toBe(true);

    const form = 'region=north&note=a+b';
    const formHeaders = await signRequest(
      { method: 'POST', path: url.pathname, headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }, query: [...url.searchParams], body: new TextEncoder().encode(form) },
      credentials,
    );
    expect(formHeaders['content-md5']).toBeUndefined();
    expect(await verifiedByServer('POST', url, formHeaders, form)).toBe(true);
  });

  it('signs x-ca-timestamp and x-ca-nonce, with a new nonce every time (a retry is not a replay)', async () => {
    const sign1 = await signRequest({ method: 'GET', path: '/api/x', headers: {}, query: [], body: undefined }, credentials, 1_700_000_000_000);
    const sign2 = await signRequest({ method: 'GET', path: '/api/x', headers: {}, query: [], body: undefined }, credentials, 1_700_000_000_000);
    expect(sign1['x-ca-signature-headers']).toBe('x-ca-key,x-ca-nonce,x-ca-timestamp');
    expect(sign1['x-ca-timestamp']).toBe('1700000000000');
    expect(sign1['x-ca-nonce']).toMatch(/^[0-9a-f]{32}$/);
    expect(sign1['x-ca-nonce']).not.toBe(sign2['x-ca-nonce']);
    expect(sign1['x-ca-signature']).not.toBe(sign2['x-ca-signature']);
  });
});
