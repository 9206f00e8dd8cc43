import { createClient, type Client } from 'graphql-ws';
import type { TokenProvider } from '../../../sdk/src/index.js';

/**
 * Pushes from the gateway's GraphQL subscriptions (graphql-ws on /graphql):
 * the picked host's cpu-mem windows as the aggregator writes them, and the
 * regional totals as they move. Each push only says "this changed"; the page
 * then reads the APIs, so pushed and polled data never disagree. The client
 * reconnects by itself (with a fresh token each time); while it is not
 * connected the page polls.
 */
export interface LiveFeed {
  /** Follows another host (or none). */
  watchHost(ip: string | undefined): void;
  stop(): void;
}

export interface LiveOptions {
  url: string;
  token: TokenProvider;
  onUpdate(): void;
  onConnected(connected: boolean): void;
}

const HOST_WINDOWS = 'subscription HostWindows($ip: String!) { cpuMemWindows(filter: { ip: $ip }) { windowStart } }';
const REGION_TOTALS = 'subscription RegionTotals { regionOrderTotalsChanged { region } }';

export function startLive(options: LiveOptions): LiveFeed {
  const client: Client = createClient({
    url: options.url,
    lazy: false,
    // A new token for every (re)connection: the gateway closes a socket whose token expired with 4419.
    connectionParams: async () => ({ Authorization: `Bearer ${await options.token(new AbortController().signal)}` }),
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    on: {
      connected: () => options.onConnected(true),
      closed: () => options.onConnected(false),
    },
  });
  const sink = { next: () => options.onUpdate(), error: () => undefined, complete: () => undefined };
  const stopRegions = client.subscribe({ query: REGION_TOTALS }, sink);
  let stopHost: (() => void) | undefined;
  return {
    watchHost(ip) {
      stopHost?.();
      stopHost = ip === undefined ? undefined : client.subscribe({ query: HOST_WINDOWS, variables: { ip } }, sink);
    },
    stop() {
      stopHost?.();
      stopRegions();
      void client.dispose();
    },
  };
}
