import { describe, expect, it } from 'vitest';
import { rollupRowsTopic } from '../../../src/core/live-messages.js';
import { LocalLiveUpdates, SUBSCRIBER_BUFFER } from '../../../src/live/live-updates.js';

describe('LocalLiveUpdates', () => {
  it('gives each subscriber every update, as JSON would carry it', async () => {
    const live = new LocalLiveUpdates();
    const a = live.pubSub.subscribe(rollupRowsTopic('r'))[Symbol.asyncIterator]();
    const b = live.pubSub.subscribe(rollupRowsTopic('r'))[Symbol.asyncIterator]();
    // A subscription starts listening with its first pull, as graphql-js does at once.
    const [firstA, firstB] = [a.next(), b.next()];
    const row = { windowStart: 0, group: { ip: 'x' }, measures: { m: 1 }, final: false, version: 3 };
    await live.rollupRows('r', [row]);
    const expected = { rollup: 'r', rows: [{ windowStart: 0, group: { ip: 'x' }, measures: { m: 1 }, final: false }] };
    expect((await firstA).value).toEqual(expected);
    expect((await firstB).value).toEqual(expected);
    await a.return?.();
    await b.return?.();
  });

  it('keeps the newest updates of a subscriber that falls behind, instead of throwing out of the publisher', async () => {
    const live = new LocalLiveUpdates();
    const slow = live.pubSub.subscribe('t')[Symbol.asyncIterator]();
    const first = slow.next();
    for (let i = 0; i < 5000; i++) live.pubSub.publish('t', { i });
    expect((await first).value).toEqual({ i: 0 });
    const seen: number[] = [];
    for (let n = 0; n < SUBSCRIBER_BUFFER; n++) seen.push(((await slow.next()).value as { i: number }).i);
    expect(seen).toEqual(Array.from({ length: SUBSCRIBER_BUFFER }, (_, k) => 5000 - SUBSCRIBER_BUFFER + k));
    live.pubSub.publish('t', { i: 5000 });
    expect((await slow.next()).value).toEqual({ i: 5000 });
    await slow.return?.();
  });
});
