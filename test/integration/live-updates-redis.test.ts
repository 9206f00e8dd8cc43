import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { rollupRowsTopic } from '../../src/core/live-messages.js';
import { RedisLiveUpdates } from '../../src/live/live-updates.js';
import { uniqueName } from '../helpers/events.js';
import { silentLogger } from '../helpers/gateway.js';
import { stackEnv } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * LiveUpdates over the real Redis: what one process publishes another
 * receives, deployments with other TOPIC_PREFIXes hear nothing, junk on the
 * channel is dropped, and closing with subscriptions open leaves no
 * unhandled rejection behind (vitest fails the file on one).
 */
const stack = stackEnv();
const prefix = `${uniqueName('live')}.`;
const opened: RedisLiveUpdates[] = [];
const open = (p = prefix) => {
  const live = new RedisLiveUpdates(stack.REDIS_URL, p, silentLogger);
  opened.push(live);
  return live;
};

afterAll(async () => {
  for (const live of opened) await live.close();
});

const row = (i: number) => ({ windowStart: i * 300_000, group: { ip: `10.0.0.${i}`, pid: i }, measures: { m: i }, final: false, version: 1 });

describe('RedisLiveUpdates', () => {
  it('carries one write from a publisher to every subscriber of the same prefix, and to no other', async () => {
    const publisher = open();
    const [a, b] = [open(), open()].map((l) => l.pubSub.subscribe(rollupRowsTopic('r'))[Symbol.asyncIterator]());
    const other = open(`${uniqueName('other')}.`).pubSub.subscribe(rollupRowsTopic('r'))[Symbol.asyncIterator]();
    const pending = [a!.next(), b!.next()];
    let otherGot: unknown;
    void other.next().then((r) => (otherGot = r.value));
    // Subscribing is asynchronous and pub/sub keeps no history: publish until both have it.
    let got: Array<IteratorResult<unknown>> | undefined;
    for (let i = 1; got === undefined; i++) {
      await publisher.rollupRows('r', [row(i), row(i + 1)]);
      got = await Promise.race([Promise.all(pending), new Promise<undefined>((resolve) => setTimeout(resolve, 100))]);
    }
    for (const r of got) expect(r.value).toMatchObject({ rollup: 'r', rows: [{ group: { pid: expect.any(Number) } }, { group: { pid: expect.any(Number) } }] });
    expect(otherGot).toBeUndefined();
    await a!.return?.();
    await b!.return?.();
    await other.return?.();
  });

  it('stops sending a rollup\'s rows for a while after a publish nobody heard, then sends again', async () => {
    let now = 1_000_000;
    const quietPrefix = `${uniqueName('quiet')}.`;
    const publisher = new RedisLiveUpdates(stack.REDIS_URL, quietPrefix, silentLogger, () => now);
    opened.push(publisher);
    const channel = `rollgate:live:${quietPrefix}${rollupRowsTopic('q')}`;
    await publisher.rollupRows('q', [row(1)]); // no subscriber: heard by nobody
    const listener = new Redis(stack.REDIS_URL);
    const marker = new Redis(stack.REDIS_URL);
    const heard: string[] = [];
    listener.on('message', (_channel: string, message: string) => heard.push(message));
    await listener.subscribe(channel);
    try {
      await publisher.rollupRows('q', [row(2)]); // within the quiet time: not sent
      await marker.publish(channel, 'marker');
      await waitFor('the marker', async () => (heard.includes('marker') ? true : undefined), 10_000, 20);
      expect(heard).toEqual(['marker']);
      now += 2001;
      await publisher.rollupRows('q', [row(3)]);
      await waitFor('the rows after the quiet time', async () => (heard.length === 2 ? true : undefined), 10_000, 20);
      expect(JSON.parse(heard[1]!)).toMatchObject({ rollup: 'q', rows: [{ group: { pid: 3 } }] });
    } finally {
      listener.disconnect();
      marker.disconnect();
    }
  });

  it('drops messages that are not JSON and delivers the next one', async () => {
    const subscriber = open().pubSub.subscribe('t')[Symbol.asyncIterator]();
    const next = subscriber.next();
    const raw = new Redis(stack.REDIS_URL);
    let value: unknown;
    void next.then((r) => (value = r.value));
    while (value === undefined) {
      await raw.publish(`rollgate:live:${prefix}t`, 'not json {');
      await raw.publish(`rollgate:live:${prefix}t`, '{"ok":true}');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(value).toEqual({ ok: true });
    raw.disconnect();
    await subscriber.return?.();
  });

  it('closes with subscriptions still open, and subscribing after close fails quietly', async () => {
    const live = new RedisLiveUpdates(stack.REDIS_URL, prefix, silentLogger);
    const it1 = live.pubSub.subscribe('x')[Symbol.asyncIterator]();
    void it1.next();
    await new Promise((resolve) => setTimeout(resolve, 100));
    void it1.return?.();
    await live.close();
    void live.pubSub.subscribe('y')[Symbol.asyncIterator]().next();
    await new Promise((resolve) => setTimeout(resolve, 300));
  });
});
