/**
 * The fuzzer's randomness: sfc32, a small fast generator that passes
 * PractRand, seeded per case from (run seed, target name, case index).
 *
 * Every case has a generator of its own rather than one stream for the
 * whole run, so case 734,219 of a target can be rebuilt without making the
 * 734,218 cases before it: a crash report's three numbers are enough.
 */

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(a: number, b: number, c: number, d: number) {
    this.a = a | 0;
    this.b = b | 0;
    this.c = c | 0;
    this.d = d | 0;
    // Mix the seed words so that neighbouring case indices diverge at once.
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform integer in 0..n-1 (n at most 2^32). */
  below(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n);
  }

  /** A uniform integer in min..max, both included. */
  int(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  chance(p: number): boolean {
    return this.u32() < p * 0x1_0000_0000;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  /**
   * A size that is mostly small and sometimes large: uniform within a
   * power-of-two bucket chosen uniformly up to 2^maxBits. Fuzzers find more
   * with many short inputs and a few long ones than with uniform lengths.
   */
  size(maxBits: number): number {
    const bits = this.below(maxBits + 1);
    return this.below(2 ** bits + 1);
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      out[i] = v;
      if (i + 1 < n) out[i + 1] = v >>> 8;
      if (i + 2 < n) out[i + 2] = v >>> 16;
      if (i + 3 < n) out[i + 3] = v >>> 24;
    }
    return out;
  }
}

/** FNV-1a over the UTF-16 code units: a stable 32-bit number for a target's name. */
export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The generator of one case. */
export function caseRng(seed: number, target: string, index: number): Rng {
  return new Rng(seed >>> 0, hashName(target), index >>> 0, (Math.floor(index / 0x1_0000_0000) ^ 0x9e3779b9) >>> 0);
}
