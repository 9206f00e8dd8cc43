import { createHash, createHmac, randomUUID } from 'node:crypto';

/**
 * A client of the API Gateway signature scheme written from the issue's rules,
 * independent of src/auth, for tests that need to build (and then tamper with)
 * signed requests.
 */
export interface SignInput {
  method: 'GET' | 'POST';
  /** Path with an optional query string, exactly as it will be sent. */
  url: string;
  appKey: string;
  appSecret: string;
  body?: string;
  contentType?: string;
  timestamp?: number;
  nonce?: string;
  /** Extra headers to send and sign (lower-case names). */
  extra?: Record<string, string>;
}

export function signedRequest(input: SignInput): { headers: Record<string, string>; stringToSign: string } {
  const headers: Record<string, string> = {
    accept: 'application/json',
    'x-ca-key': input.appKey,
    'x-ca-timestamp': String(input.timestamp ?? Date.now()),
    'x-ca-nonce': input.nonce ?? randomUUID(),
    ...input.extra,
  };
  if (input.contentType !== undefined) headers['content-type'] = input.contentType;
  const form = input.contentType?.startsWith('application/x-www-form-urlencoded') === true;
  if (input.body !== undefined && !form) headers['content-md5'] = createHash('md5').update(input.body).digest('base64');
  const signed = Object.keys(headers).filter((k) => k.startsWith('x-ca-') || (input.extra !== undefined && k in input.extra)).sort();
  headers['x-ca-signature-headers'] = signed.join(',');
  const [path = '', search = ''] = input.url.split('?');
  const params = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(search)) params.set(k, v);
  if (form && input.body !== undefined) for (const [k, v] of new URLSearchParams(input.body)) params.set(k, v);
  const keys = [...params.keys()].sort();
  const pathPart = keys.length === 0 ? path : `${path}?${keys.map((k) => (params.get(k) === '' ? k : `${k}=${params.get(k)}`)).join('&')}`;
  const stringToSign = [
    input.method,
    headers['accept'] ?? '',
    headers['content-md5'] ?? '',
    headers['content-type'] ?? '',
    headers['date'] ?? '',
    ...signed.map((k) => `${k}:${headers[k]}`),
    pathPart,
  ].join('\n');
  headers['x-ca-signature'] = createHmac('sha256', input.appSecret).update(stringToSign).digest('base64');
  return { headers, stringToSign };
}
