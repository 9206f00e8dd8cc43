/** What the runner knows of one partition when it checks for idleness. */
export interface PartitionProgress {
  partition: number;
  /** Including any floor an earlier raise set. */
  watermark: number;
  /** What the partition's own events justify. */
  eventWatermark: number;
  openWindows: number;
  silentForMs: number;
  nextOffset: number;
}

/**
 * Which partitions are idle, and the watermark they should take.
 *
 * A partition is idle when it holds open windows, has had no message for
 * `idleMs`, AND the log confirms nothing waits in it (its end offset is where
 * it will read next): silence because data has not been fetched yet is not
 * idleness, and raising such a partition would turn its on-time events late.
 * Idle partitions take the lowest event watermark of the others that are not
 * idle; when every partition is idle, the highest watermark any has reached
 * (the stream got that far). Pure, so the decision is tested without a clock.
 */
export function idleRaises(partitions: readonly PartitionProgress[], endOffsets: ReadonlyMap<number, number>, idleMs: number): Map<number, number> {
  const idle = new Set<number>();
  for (const p of partitions) {
    const end = endOffsets.get(p.partition);
    if (p.openWindows > 0 && p.silentForMs >= idleMs && end !== undefined && p.nextOffset >= end) idle.add(p.partition);
  }
  const raises = new Map<number, number>();
  if (idle.size === 0) return raises;
  let lowestActive = Number.POSITIVE_INFINITY;
  let highest = Number.NEGATIVE_INFINITY;
  for (const p of partitions) {
    if (!Number.isFinite(p.watermark)) continue;
    highest = Math.max(highest, p.watermark);
    if (!idle.has(p.partition)) lowestActive = Math.min(lowestActive, p.eventWatermark);
  }
  const target = Number.isFinite(lowestActive) ? lowestActive : highest;
  if (!Number.isFinite(target)) return raises;
  for (const partition of idle) raises.set(partition, target);
  return raises;
}
