/**
 * Seeded randomness. One run seed; every consumer derives its own stream from
 * (seed, label, step, prompt, sample), so adding a consumer never shifts another's draws
 * and a resumed run draws exactly what an uninterrupted one would.
 */

// 32-bit finaliser of MurmurHash3: full avalanche, so nearby inputs give unrelated outputs.
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hashString(s: string): number {
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return fmix32(h >>> 0);
}

/** Derives a 32-bit seed from a run seed and a path of labels/indices. */
export function deriveSeed(seed: number, ...path: ReadonlyArray<number | string>): number {
  let h = fmix32((seed >>> 0) ^ 0x9e3779b9);
  for (const part of path) {
    const v = typeof part === 'string' ? hashString(part) : fmix32((part >>> 0) + 0x7f4a7c15);
    h = fmix32((h ^ v) + Math.imul(h, 0x165667b1));
  }
  return h;
}

export type RngState = [number, number, number, number];

/** sfc32 generator (32-bit small fast counting RNG): small state, passes PractRand. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number | RngState) {
    if (Array.isArray(seed)) {
      [this.#a, this.#b, this.#c, this.#d] = seed.map((x) => x >>> 0) as RngState;
    } else {
      this.#a = fmix32(seed ^ 0xa5a5a5a5);
      this.#b = fmix32(seed ^ 0x3c6ef372);
      this.#c = fmix32(seed ^ 0x5be0cd19);
      this.#d = 1;
      for (let i = 0; i < 12; i++) this.nextUint32(); // warm up
    }
  }

  /** A stream derived from (seed, ...path). */
  static derive(seed: number, ...path: ReadonlyArray<number | string>): Rng {
    return new Rng(deriveSeed(seed, ...path));
  }

  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 53 bits of precision. */
  float(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`Rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.float() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  state(): RngState {
    return [this.#a >>> 0, this.#b >>> 0, this.#c >>> 0, this.#d >>> 0];
  }
}
