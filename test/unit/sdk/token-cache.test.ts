import { describe, expect, it } from 'vitest';
import { TokenCache } from '../../../sdk/src/auth.js';
import type { TokenResponse } from '../../../sdk/src/apis.js';

const answer = (token: string, expiresIn: number): TokenResponse => ({ token, tokenType: 'Bearer', expiresIn, expiresAt: '', appKey: 'k', grants: [] });

describe('TokenCache', () => {
  it('shares one token request between concurrent calls, keeps the token, and renews it when a tenth of its life (at most 30 s) is left', async () => {
    let now = 0;
    let issued = 0;
    const cache = new TokenCache(async () => answer(`t${++issued}`, 900), () => now);
    const signal = new AbortController().signal;
    expect(await Promise.all([cache.get(signal), cache.get(signal), cache.get(signal)])).toEqual(['t1', 't1', 't1']);
    now = 869_999;
    expect(await cache.get(signal)).toBe('t1');
    now = 870_000;
    expect(await cache.get(signal)).toBe('t2');
    expect(issued).toBe(2);
  });

  it('asks again after invalidate(), and after a failed request', async () => {
    let issued = 0;
    let fail = true;
    const cache = new TokenCache(async () => {
      if (fail) throw new Error('down');
      return answer(`t${++issued}`, 60);
    });
    const signal = new AbortController().signal;
    await expect(cache.get(signal)).rejects.toThrow('down');
    fail = false;
    expect(await cache.get(signal)).toBe('t1');
    cache.invalidate('other');
    expect(await cache.get(signal)).toBe('t1');
    cache.invalidate('t1');
    expect(await cache.get(signal)).toBe('t2');
  });
});
