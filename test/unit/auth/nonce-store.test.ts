import { describe, expect, it } from 'vitest';
import { NonceStore } from '../../../src/auth/nonce-store.js';
import { expectCode } from '../../helpers/errors.js';
import { silentLogger } from '../../helpers/gateway.js';

describe('NonceStore in one process (no Redis)', () => {
  it("never forgets one app's nonce because another app sends many", async () => {
    const store = new NonceStore(undefined, 'x:', 60_000, silentLogger, 1000);
    expect(await store.remember('victim', 'captured-nonce')).toBe(true);
    for (let i = 0; i < 1000; i++) await store.remember('flooder', `n${i}`);
    await expectCode(store.remember('flooder', 'one-too-many'), 'RATE_LIMITED');
    // The victim's request still cannot be replayed, and the victim still gets through.
    expect(await store.remember('victim', 'captured-nonce')).toBe(false);
    expect(await store.remember('victim', 'fresh-nonce')).toBe(true);
  });

  it('refuses rather than forgets when an app fills its own partition, until its nonces expire', async () => {
    let now = 1_000_000;
    const store = new NonceStore(undefined, 'x:', 60_000, silentLogger, 3, () => now);
    for (const n of ['a', 'b', 'c']) expect(await store.remember('app', n)).toBe(true);
    await expectCode(store.remember('app', 'd'), 'RATE_LIMITED');
    expect(await store.remember('app', 'a')).toBe(false);
    now += 60_001;
    expect(await store.remember('app', 'd')).toBe(true);
  });
});
