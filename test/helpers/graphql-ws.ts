import type { FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface Closed {
  code: number;
  reason: string;
}

/** A graphql-ws client of `base` (http://…) that connects once, with these connection_init params, and never retries. */
export function wsClient(base: string, connectionParams: Record<string, unknown> | undefined, onClosed?: (closed: Closed) => void): Client {
  return createClient({
    url: `${base.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams,
    lazy: true,
    retryAttempts: 0,
    on: {
      closed: (event) => {
        const e = event as { code: number; reason: string };
        onClosed?.({ code: e.code, reason: String(e.reason) });
      },
    },
  });
}

/** Collects the results of one subscription; `next(n)` waits for the n-th (1-based), `done` for the end or an error. */
export function collect<T>(client: Client, query: string, variables?: Record<string, unknown>) {
  const results: Array<FormattedExecutionResult<T, unknown>> = [];
  const waiting: Array<{ count: number; resolve: () => void }> = [];
  let failure: unknown;
  const done = new Promise<void>((resolve, reject) => {
    client.subscribe<T>(
      { query, ...(variables === undefined ? {} : { variables }) },
      {
        next: (value) => {
          results.push(value);
          for (const w of waiting.filter((w) => results.length >= w.count)) w.resolve();
        },
        error: (err) => {
          failure = err;
          reject(new Error('the subscription failed; see failure()'));
        },
        complete: () => resolve(),
      },
    );
  });
  done.catch(() => undefined);
  return {
    results,
    done,
    failure: () => failure,
    next: (count: number) =>
      new Promise<FormattedExecutionResult<T, unknown>>((resolve) => {
        if (results.length >= count) return resolve(results[count - 1]!);
        waiting.push({ count, resolve: () => resolve(results[count - 1]!) });
      }),
  };
}
