/**
 * The rollgate browser monitor (seed 003's front-end SDK), with no runtime
 * dependencies:
 *
 *   const monitor = new RollgateMonitor({ appId: 'code-robot', endpoint: 'https://gw.example/monitor/upload' });
 *   monitor.sendToAnalytics({ pageId: 'home', eventType: 'click', args: { button: 'buy' } });
 *
 * A page view is sent on load. Events are batched (up to `maxBatch`, or every
 * `flushIntervalMs`) and POSTed as text/plain JSON, which needs no CORS
 * preflight; a network error, 429 or 5xx is retried with backoff under the
 * same event ids, so the collector's table keeps each event once. When the
 * page is hidden, whatever is queued goes out with navigator.sendBeacon.
 */
export interface MonitorOptions {
  appId: string;
  /** The collector: `<gateway>/monitor/upload`. */
  endpoint: string;
  /** pageId of the automatic page view; default location.pathname. Set false to send none. */
  pageView?: string | false;
  flushIntervalMs?: number;
  maxBatch?: number;
  /** Attempts per batch before it is dropped. */
  maxAttempts?: number;
}

export interface AnalyticsEvent {
  pageId: string;
  /** Default `pv`. */
  eventType?: string;
  args?: Record<string, unknown>;
  /** Default location.href. */
  url?: string;
}

interface Upload {
  appId: string;
  pageId: string;
  eventType: string;
  url: string;
  ua: string;
  timestamp: number;
  args: Record<string, unknown>;
  eventId: string;
}

const UID_KEY = 'rollgate_uid';
/** Beacons are capped by browsers at 64 KiB in flight; stay under the collector's limit too. */
const BEACON_BYTES = 60 * 1024;

export class RollgateMonitor {
  private queue: Upload[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sending = false;
  /** Events at the head of the queue that a fetch is sending right now; a beacon skips them. */
  private inFlight = 0;
  private attempts = 0;
  private readonly uid: string;
  private readonly options: Required<Omit<MonitorOptions, 'pageView'>> & { pageView: string | false };

  constructor(options: MonitorOptions) {
    this.options = {
      flushIntervalMs: 2000,
      maxBatch: 20,
      maxAttempts: 6,
      pageView: location.pathname,
      ...options,
    };
    this.uid = visitorUid();
    const pageView = this.options.pageView;
    if (pageView !== false) {
      const send = () => this.sendToAnalytics({ pageId: pageView, eventType: 'pv' });
      if (document.readyState === 'complete') send();
      else window.addEventListener('load', send, { once: true });
    }
    const hide = () => this.flushWithBeacon();
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') hide();
    });
    window.addEventListener('pagehide', hide);
  }

  /** Queues one event; it is sent with the next batch. */
  sendToAnalytics(event: AnalyticsEvent): void {
    this.queue.push({
      appId: this.options.appId,
      pageId: event.pageId,
      eventType: event.eventType ?? 'pv',
      url: event.url ?? location.href,
      ua: navigator.userAgent.slice(0, 512),
      timestamp: Date.now(),
      args: { ...event.args, uid: this.uid },
      eventId: randomId(),
    });
    if (this.queue.length >= this.options.maxBatch) void this.flush();
    else this.schedule(this.options.flushIntervalMs);
  }

  /** Sends what is queued now; resolves when the batch in flight is settled. */
  async flush(): Promise<void> {
    if (this.sending || this.queue.length === 0) return;
    this.sending = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue.slice(0, this.options.maxBatch);
    this.inFlight = batch.length;
    let retryInMs: number | undefined;
    try {
      const res = await fetch(this.options.endpoint, {
        method: 'POST',
        // text/plain is a "simple" request: no preflight, and the same body sendBeacon sends.
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
        body: JSON.stringify(batch),
        keepalive: true,
        credentials: 'omit',
      });
      if (res.status === 429 || res.status >= 500) {
        const after = Number(res.headers.get('retry-after'));
        retryInMs = Number.isFinite(after) && after > 0 ? after * 1000 : this.backoff();
      }
      // Any other 4xx is a malformed event: retrying cannot fix it, so it is dropped.
    } catch {
      retryInMs = this.backoff();
    }
    this.sending = false;
    this.inFlight = 0;
    if (retryInMs !== undefined && this.attempts + 1 < this.options.maxAttempts) {
      this.attempts += 1;
      this.schedule(retryInMs);
      return;
    }
    this.attempts = 0;
    this.queue.splice(0, batch.length);
    if (this.queue.length > 0) this.schedule(0);
  }

  /** On page hide: everything queued, in beacons; what a beacon refuses stays for fetch. */
  flushWithBeacon(): void {
    if (this.queue.length <= this.inFlight || typeof navigator.sendBeacon !== 'function') {
      void this.flush();
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    const from = this.inFlight;
    while (this.queue.length > from) {
      let n = Math.min(this.queue.length - from, this.options.maxBatch);
      let body = JSON.stringify(this.queue.slice(from, from + n));
      while (n > 1 && body.length > BEACON_BYTES) {
        n = Math.ceil(n / 2);
        body = JSON.stringify(this.queue.slice(from, from + n));
      }
      if (!navigator.sendBeacon(this.options.endpoint, new Blob([body], { type: 'text/plain;charset=UTF-8' }))) break;
      this.queue.splice(from, n);
    }
    if (this.queue.length > from) void this.flush();
  }

  private schedule(ms: number): void {
    if (this.timer !== undefined && ms > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
  }

  private backoff(): number {
    return Math.min(30_000, 500 * 2 ** this.attempts) * (0.5 + Math.random() / 2);
  }
}

function randomId(): string {
  const c = globalThis.crypto;
  if (c !== undefined && typeof c.randomUUID === 'function') return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

/** A random visitor id kept in localStorage: the collector counts uv by it. */
function visitorUid(): string {
  try {
    const kept = localStorage.getItem(UID_KEY);
    if (kept !== null && kept !== '') return kept;
    const made = randomId();
    localStorage.setItem(UID_KEY, made);
    return made;
  } catch {
    // Storage blocked (privacy mode): a per-page-load id; the collector still counts the page views.
    return randomId();
  }
}
