import { describe, expect, it } from 'vitest';
import { forErrorHeader, sign, stringToSign } from '../../../src/auth/signature.js';

describe('stringToSign (the API Gateway rules of issue 6)', () => {
  it('keeps every fixed line, sorts the signed headers and the parameters, and writes an empty value as the bare key', () => {
    const text = stringToSign({
      method: 'post',
      path: '/api/shop/orders',
      headers: {
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded; charset=UTF-8',
        'x-ca-signature-headers': 'X-Ca-Timestamp, x-ca-key,x-ca-nonce,x-ca-signature',
        'x-ca-key': '203753385',
        'x-ca-nonce': 'c9f15cbf-f4ac-4a6c-b54d-f51abf4b5b44',
        'x-ca-timestamp': '1525872629832',
        'x-ca-signature': 'ignored',
      },
      query: [
        ['b', '2'],
        ['a', ''],
      ],
      form: [['c', 'x y']],
    });
    expect(text).toBe(
      'POST\napplication/json\n\napplication/x-www-form-urlencoded; charset=UTF-8\n\n' +
        'x-ca-key:203753385\nx-ca-nonce:c9f15cbf-f4ac-4a6c-b54d-f51abf4b5b44\nx-ca-timestamp:1525872629832\n' +
        '/api/shop/orders?a&b=2&c=x y',
    );
  });

  it('is the path alone without parameters, and empty lines stay', () => {
    expect(stringToSign({ method: 'GET', path: '/p', headers: {}, query: [], form: [] })).toBe('GET\n\n\n\n\n/p');
  });

  it('signs with Base64(HmacSHA256(secret, text)) (RFC 4231 test case 2)', () => {
    expect(sign('Jefe', 'what do ya want for nothing?')).toBe(Buffer.from('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843', 'hex').toString('base64'));
  });

  it('writes newlines as # and percent-encodes what a header may not carry', () => {
    expect(forErrorHeader('GET\n\n/p?q=é\r')).toBe('GET##/p?q=%C3%A9%0D');
  });
});
