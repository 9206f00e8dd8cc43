/** Event time in epoch milliseconds from a number (ms) or an ISO-8601 string; undefined when neither. */
export function parseEventTime(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  }
  if (typeof value === 'string' && ISO_8601.test(value)) {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

// Date.parse alone accepts many non-ISO shapes ("Tue 5 May"); keep the contract narrow.
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

export function windowStartOf(eventTimeMs: number, sizeSeconds: number): number {
  const size = sizeSeconds * 1000;
  return Math.floor(eventTimeMs / size) * size;
}
