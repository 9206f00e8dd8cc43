import { Repeater, SlidingBuffer } from '@repeaterjs/repeater';
import { Redis } from 'ioredis';
import type { PubSub } from 'type-graphql';
import { REGION_TOTALS_TOPIC, rollupRowsTopic, rowsMessages } from '../core/live-messages.js';
import type { RollupRow } from '../core/windowed-aggregation.js';
import type { Logger } from '../logger.js';

/**
 * Live updates for GraphQL subscriptions. Aggregators (often other processes)
 * publish what they wrote; every gateway subscribes and relays it to its
 * WebSocket clients. With Redis the messages cross Redis pub/sub, so every
 * gateway instance delivers every update; embedded, they stay in the process.
 *
 * Best effort by design: a subscriber sees the updates published while it is
 * subscribed, and the stores stay the truth (a query reads what it missed).
 */
export interface LivePublisher {
  /** One write's rows; one message per write, cut only when it is large (see rowsMessages). */
  rollupRows(rollup: string, rows: readonly RollupRow[]): Promise<void>;
  /** The regions whose order totals one transaction moved. */
  regionTotalsChanged(regions: readonly string[]): Promise<void>;
}

export interface LiveUpdates extends LivePublisher {
  /** What type-graphql's @Subscription resolvers listen on. */
  readonly pubSub: PubSub;
  close(): Promise<void>;
}

/**
 * Updates a subscriber may fall behind (a client reading slowly) before the
 * oldest are dropped. Without a bound, graphql-yoga's pub/sub queues pushes
 * until the 1025th throws inside the event dispatch, which kills the process.
 */
export const SUBSCRIBER_BUFFER = 256;

type Listener = (event: CustomEvent) => void;

/** What both event targets (Node's in one process, RedisEventTarget across them) offer. */
interface Target {
  addEventListener(type: string, listener: Listener): void;
  removeEventListener(type: string, listener: Listener): void;
}

/** One subscriber's stream of a topic, with its own sliding buffer. */
function listen(target: Target, topic: string): AsyncIterable<unknown> {
  return new Repeater<unknown>((push, stop) => {
    const listener: Listener = (event) => {
      void push(event.detail as unknown);
    };
    target.addEventListener(topic, listener);
    void stop.then(() => target.removeEventListener(topic, listener));
  }, new SlidingBuffer(SUBSCRIBER_BUFFER));
}

/** In one process: the embedded mode, where the aggregators run beside the gateway. */
export class LocalLiveUpdates implements LiveUpdates {
  private readonly target = new EventTarget();
  readonly pubSub: PubSub = {
    publish: (topic: string, payload: unknown) => {
      this.target.dispatchEvent(new CustomEvent(topic, { detail: payload }));
    },
    subscribe: (topic: string) => listen(this.target as Target, topic),
  };

  async rollupRows(rollup: string, rows: readonly RollupRow[]): Promise<void> {
    // Through JSON as over Redis, so subscribers see the same shapes either way.
    for (const message of rowsMessages(rollup, rows)) this.pubSub.publish(rollupRowsTopic(rollup), JSON.parse(message) as unknown);
  }

  async regionTotalsChanged(regions: readonly string[]): Promise<void> {
    this.pubSub.publish(REGION_TOTALS_TOPIC, { regions: [...regions] });
  }

  async close(): Promise<void> {}
}

/** After a publish that reached nobody, how long a rollup's rows are not published. */
const QUIET_MS = 2000;

/**
 * Over Redis pub/sub. Channels are `rollgate:live:<TOPIC_PREFIX><topic>`, so
 * deployments (or tests) sharing a Redis do not hear each other, as they do
 * not share topics. Publishing uses a plain connection and awaits each
 * publish; the subscriber connection is opened on the first subscription.
 */
export class RedisLiveUpdates implements LiveUpdates {
  private readonly commands: Redis;
  private subscriber: Redis | undefined;
  private readonly channelPrefix: string;
  /** Channels whose last publish reached no subscriber, until when their rows are not sent. */
  private readonly quietUntil = new Map<string, number>();
  readonly pubSub: PubSub;

  constructor(
    url: string,
    topicPrefix: string,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.channelPrefix = `rollgate:live:${topicPrefix}`;
    this.commands = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 });
    this.commands.on('error', (err: Error) => this.logger.warn({ err: { message: err.message } }, 'redis (live updates) error'));
    let target: Target | undefined;
    const channel = (topic: string) => this.channelPrefix + topic;
    // Gateways only subscribe; aggregators publish through rollupRows/regionTotalsChanged, which await Redis.
    this.pubSub = {
      publish: (topic: string, payload: unknown) => {
        this.publish(channel(topic), JSON.stringify(payload ?? null)).catch((err: unknown) => this.logger.warn({ err }, 'could not publish a live update'));
      },
      subscribe: (topic: string) => {
        target ??= this.eventTarget();
        return listen(target, channel(topic));
      },
    };
  }

  /**
   * Gateways subscribe to a channel only while a client subscribes, so a
   * publish that reached no one means nobody listens: then the rows of the
   * writes in the next QUIET_MS are neither serialised nor sent (at 100k
   * series a write is megabytes), and a new subscriber hears from the
   * aggregator at most that much later.
   */
  async rollupRows(rollup: string, rows: readonly RollupRow[]): Promise<void> {
    const channel = this.channelPrefix + rollupRowsTopic(rollup);
    if ((this.quietUntil.get(channel) ?? 0) > this.now()) return;
    for (const message of rowsMessages(rollup, rows)) {
      if ((await this.publish(channel, message)) === 0) {
        this.quietUntil.set(channel, this.now() + QUIET_MS);
        return;
      }
    }
  }

  async regionTotalsChanged(regions: readonly string[]): Promise<void> {
    await this.publish(this.channelPrefix + REGION_TOTALS_TOPIC, JSON.stringify({ regions }));
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect();
    this.commands.disconnect();
  }

  /** How many subscribers got it. */
  private async publish(channel: string, message: string): Promise<number> {
    if (this.commands.status === 'wait') await this.commands.connect();
    return this.commands.publish(channel, message);
  }

  /** The subscriber connection, opened on the first subscription; ioredis resubscribes after a reconnect. */
  private eventTarget(): Target {
    const subscriber = this.commands.duplicate({ lazyConnect: false, enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.subscriber = subscriber;
    subscriber.on('error', (err: Error) => this.logger.warn({ err: { message: err.message } }, 'redis (live subscription) error'));
    return new RedisEventTarget(subscriber, this.logger);
  }
}

/**
 * Redis channels as an event target: one Redis subscription per channel while
 * it has listeners, each message parsed once and dispatched to all of them.
 * (graphql-yoga's redis-event-target does this too, but leaves its subscribe
 * and unsubscribe promises unhandled, and a rejected one, e.g. on shutdown,
 * kills a Node process; it also throws on a message that is not JSON.)
 */
class RedisEventTarget implements Target {
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(
    private readonly subscriber: Redis,
    private readonly logger: Logger,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      const listeners = this.listeners.get(channel);
      if (listeners === undefined) return;
      let detail: unknown;
      try {
        detail = JSON.parse(message) as unknown;
      } catch {
        this.logger.warn({ channel }, 'ignored a malformed live update');
        return;
      }
      const event = new CustomEvent(channel, { detail });
      for (const listener of listeners) listener(event);
    });
  }

  addEventListener(channel: string, listener: Listener): void {
    let listeners = this.listeners.get(channel);
    if (listeners === undefined) {
      listeners = new Set();
      this.listeners.set(channel, listeners);
      this.subscriber.subscribe(channel).catch((err: unknown) => this.logger.warn({ err, channel }, 'redis subscribe failed'));
    }
    listeners.add(listener);
  }

  removeEventListener(channel: string, listener: Listener): void {
    const listeners = this.listeners.get(channel);
    if (listeners === undefined || !listeners.delete(listener) || listeners.size > 0) return;
    this.listeners.delete(channel);
    // A closed connection has no subscriptions left to end.
    if (this.subscriber.status === 'ready') {
      this.subscriber.unsubscribe(channel).catch((err: unknown) => this.logger.debug({ err, channel }, 'redis unsubscribe failed'));
    }
  }
}
