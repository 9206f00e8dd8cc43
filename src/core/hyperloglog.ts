import { createHash } from 'node:crypto';

/**
 * A HyperLogLog distinct-count sketch with 2^12 registers (~1.6 % standard
 * error), kept in a window's open state and in checkpoints.
 *
 * Written here rather than taken from npm: the one maintained package with an
 * HLL (bloom-filters 3.0.4) measured -45 % at 100 and -51 % at 1,000 distinct
 * values and took 0.3 ms per update. This one hashes with MD5 (64 of its bits;
 * any well-mixed hash will do, and node:crypto is deterministic on every
 * platform, so a replay rebuilds the same registers) and estimates with Ertl's
 * "improved raw estimator" (arXiv:1702.01284), which needs neither linear
 * counting nor HLL++'s empirical bias tables and is unbiased from 1 to 2^40.
 */
export const HLL_PRECISION = 12;
const M = 1 << HLL_PRECISION;
/** Hash bits left after the register index; a rank is 1..Q+1. */
const Q = 64 - HLL_PRECISION;
/** 1.04 / sqrt(m): the relative standard error of the estimate. */
export const HLL_STANDARD_ERROR = 1.04 / Math.sqrt(M);

export class HyperLogLog {
  readonly registers: Uint8Array;

  constructor(registers?: Uint8Array) {
    if (registers !== undefined && registers.length !== M) throw new Error(`a HyperLogLog has ${M} registers, got ${registers.length}`);
    this.registers = registers ?? new Uint8Array(M);
  }

  add(value: string): void {
    const digest = createHash('md5').update(value, 'utf8').digest();
    const hi = digest.readUInt32BE(0);
    const lo = digest.readUInt32BE(4);
    const index = hi >>> (32 - HLL_PRECISION);
    // The rank is the position of the first 1 bit in the remaining Q bits.
    const rest = (hi << HLL_PRECISION) >>> 0;
    const rank = rest !== 0 ? Math.clz32(rest) + 1 : 32 - HLL_PRECISION + (lo === 0 ? 32 : Math.clz32(lo)) + 1;
    if (rank > (this.registers[index] ?? 0)) this.registers[index] = rank;
  }

  merge(other: HyperLogLog): void {
    for (let i = 0; i < M; i++) {
      const r = other.registers[i] ?? 0;
      if (r > (this.registers[i] ?? 0)) this.registers[i] = r;
    }
  }

  /** The estimated number of distinct values added, rounded. */
  estimate(): number {
    const counts = new Array<number>(Q + 2).fill(0);
    for (const r of this.registers) counts[r] = (counts[r] ?? 0) + 1;
    let z = M * tau(1 - (counts[Q + 1] ?? 0) / M);
    for (let k = Q; k >= 1; k--) z = 0.5 * (z + (counts[k] ?? 0));
    z += M * sigma((counts[0] ?? 0) / M);
    return Math.round((M * M) / (2 * Math.LN2 * z));
  }

  /**
   * For checkpoints: `s` + (index, rank) pairs while few registers are set (a
   * window with a handful of visitors stays a few bytes), `d` + all registers
   * once that is smaller. Base64 either way.
   */
  serialize(): string {
    let set = 0;
    for (const r of this.registers) if (r !== 0) set += 1;
    if (set * 3 >= M) return `d${Buffer.from(this.registers).toString('base64')}`;
    const pairs = Buffer.alloc(set * 3);
    let at = 0;
    this.registers.forEach((r, i) => {
      if (r === 0) return;
      pairs.writeUInt16BE(i, at);
      pairs.writeUInt8(r, at + 2);
      at += 3;
    });
    return `s${pairs.toString('base64')}`;
  }

  static deserialize(text: string): HyperLogLog {
    const body = Buffer.from(text.slice(1), 'base64');
    if (text.startsWith('d')) return new HyperLogLog(new Uint8Array(body));
    if (!text.startsWith('s') || body.length % 3 !== 0) throw new Error('not a serialized HyperLogLog');
    const hll = new HyperLogLog();
    for (let at = 0; at < body.length; at += 3) {
      const index = body.readUInt16BE(at);
      const rank = body.readUInt8(at + 2);
      if (index >= M || rank > Q + 1) throw new Error('not a serialized HyperLogLog');
      hll.registers[index] = rank;
    }
    return hll;
  }
}

function sigma(x: number): number {
  if (x === 1) return Number.POSITIVE_INFINITY;
  let y = 1;
  let z = x;
  for (;;) {
    x *= x;
    const previous = z;
    z += x * y;
    y += y;
    if (z === previous) return z;
  }
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  for (;;) {
    x = Math.sqrt(x);
    const previous = z;
    y *= 0.5;
    z -= (1 - x) ** 2 * y;
    if (z === previous) return z / 3;
  }
}
