/**
 * Which windows an event belongs to, and when each window ends. A window is
 * named by one number, its key (epoch ms), which is the `window_start` column
 * of the rows it produces:
 *
 * - tumbling: [k, k + size), k a multiple of size; one window per event.
 * - sliding (hopping): [k, k + size), k a multiple of slide; an event is in
 *   size / slide windows (rounded up).
 * - accumulating: a period of `size` is cut into slots of `emit`; the window
 *   keyed by a slot's start k covers [period start, k + emit), so its rows grow
 *   slot after slot through the period and start again with the next one. An
 *   event is in every window of its period from its own slot on.
 *
 * Windows end (and close when the watermark passes) at `endOf(key)`.
 */
export type WindowSpec =
  | { kind: 'tumbling'; sizeSeconds: number; latenessSeconds: number }
  | { kind: 'sliding'; sizeSeconds: number; slideSeconds: number; latenessSeconds: number }
  | { kind: 'accumulating'; sizeSeconds: number; emitSeconds: number; latenessSeconds: number };

export interface WindowAssigner {
  /** Keys of every window holding an event at `timeMs`, ascending. */
  windowsOf(timeMs: number): number[];
  /** The end (exclusive) of the window named `key`. */
  endOf(key: number): number;
}

/** Problems with a window spec, empty when it is usable. */
export function windowProblems(w: WindowSpec): string[] {
  const problems: string[] = [];
  if (!(w.sizeSeconds > 0) || !(w.latenessSeconds >= 0)) problems.push('window size must be > 0, lateness >= 0');
  if (w.kind === 'sliding' && !(w.slideSeconds > 0 && w.slideSeconds <= w.sizeSeconds)) problems.push('window slide must be > 0 and <= the window size');
  if (w.kind === 'accumulating' && !(w.emitSeconds > 0 && w.sizeSeconds % w.emitSeconds === 0)) {
    problems.push('accumulating window: the period must be a whole number of emit intervals');
  }
  return problems;
}

export function windowAssigner(w: WindowSpec): WindowAssigner {
  const size = w.sizeSeconds * 1000;
  switch (w.kind) {
    case 'tumbling':
      return { windowsOf: (t) => [Math.floor(t / size) * size], endOf: (k) => k + size };
    case 'sliding': {
      const slide = w.slideSeconds * 1000;
      return {
        windowsOf: (t) => {
          const keys: number[] = [];
          // Every multiple of slide in (t - size, t].
          for (let k = Math.floor(t / slide) * slide; k > t - size; k -= slide) keys.push(k);
          return keys.reverse();
        },
        endOf: (k) => k + size,
      };
    }
    case 'accumulating': {
      const emit = w.emitSeconds * 1000;
      return {
        windowsOf: (t) => {
          const periodEnd = Math.floor(t / size) * size + size;
          const keys: number[] = [];
          for (let k = Math.floor(t / emit) * emit; k < periodEnd; k += emit) keys.push(k);
          return keys;
        },
        endOf: (k) => k + emit,
      };
    }
  }
}
