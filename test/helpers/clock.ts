/**
 * A clock that reads `startMs` now and then runs at the real pace. Fixtures keep fixed
 * event times; components that compare them with "now" (message timestamps, retention,
 * idleness) get this clock, so a test means the same on whatever day it runs.
 */
export function clockFrom(startMs: number): () => number {
  const offset = startMs - Date.now();
  return () => Date.now() + offset;
}
