import { describe, expect, it } from 'vitest';
import { idleRaises, type PartitionProgress } from '../../../src/core/idleness.js';

const MIN = 60_000;
const p = (partition: number, watermark: number, over: Partial<PartitionProgress> = {}): PartitionProgress => ({
  partition,
  watermark,
  eventWatermark: watermark,
  openWindows: 1,
  silentForMs: 0,
  nextOffset: 100,
  ...over,
});
const ends = (...pairs: Array<[number, number]>) => new Map(pairs);

describe('idleRaises', () => {
  it('raises a silent, caught-up partition to the lowest watermark of the active ones', () => {
    const raises = idleRaises([p(0, 20 * MIN), p(1, 15 * MIN), p(2, 1 * MIN, { silentForMs: 5000 })], ends([0, 100], [1, 100], [2, 100]), 2000);
    expect(raises).toEqual(new Map([[2, 15 * MIN]]));
  });

  it('does not raise a silent partition whose data waits in the log: after a pause, one partition fetched first must not make the others late', () => {
    // Partition 0 just got the new burst and jumped ahead; 1 and 2 were silent through the pause, but their burst is already in the log.
    const progress = [p(0, 30 * MIN), p(1, 10 * MIN, { silentForMs: 5000 }), p(2, 10 * MIN, { silentForMs: 5000 })];
    expect(idleRaises(progress, ends([0, 100], [1, 160], [2, 175]), 2000)).toEqual(new Map());
    // A silent partition with pending data still holds the operator watermark back for the truly idle ones.
    const withIdle = [...progress, p(3, 2 * MIN, { silentForMs: 5000 })];
    expect(idleRaises(withIdle, ends([0, 100], [1, 160], [2, 175], [3, 100]), 2000)).toEqual(new Map([[3, 10 * MIN]]));
  });

  it('raises the laggards to the highest watermark reached when every partition is idle', () => {
    const raises = idleRaises([p(0, 30 * MIN, { silentForMs: 9000 }), p(1, 10 * MIN, { silentForMs: 9000 })], ends([0, 100], [1, 100]), 2000);
    expect(raises).toEqual(new Map([[0, 30 * MIN], [1, 30 * MIN]]));
  });

  it('leaves alone partitions without open windows, silent for less than the timeout, or unknown to the log', () => {
    const progress = [p(0, 30 * MIN), p(1, 1 * MIN, { silentForMs: 5000, openWindows: 0 }), p(2, 1 * MIN, { silentForMs: 1000 }), p(3, 1 * MIN, { silentForMs: 5000 })];
    expect(idleRaises(progress, ends([0, 100], [1, 100], [2, 100]), 2000)).toEqual(new Map());
  });
});
