// Named, seeded random streams. A stream is defined by (run seed, stream name, day, block),
// so a draw never depends on how many draws other mechanisms made, nor on which thread
// runs a block: that is what makes runs bit-identical whatever the thread count.
import type { GrowableColumn } from "./columns.js";

/** murmur3's 32-bit finaliser: a cheap, well-mixed bijection on 32-bit integers. */
export function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** One more 32-bit integer folded into a hash (hashInts(a, b, x) = hashStep(hashInts(a, b), x)). */
export const hashStep = (h: number, x: number): number => mix32(h ^ mix32((x >>> 0) + 0x7f4a7c15));

/** Hash of a list of 32-bit integers. */
export function hashInts(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) h = hashStep(h, x);
  return h;
}

/** FNV-1a of a stream name: stable ids for named streams. */
export function nameId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const INV_2_32 = 1 / 4294967296;

/**
 * sfc32 (Chris Doty-Humphrey's small fast chaotic generator): four 32-bit words of state,
 * passes PractRand, and runs on int32 arithmetic that V8 keeps unboxed in the tick loop.
 */
export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 1;

  constructor(seed = 0) {
    this.reseed(seed);
  }

  reseed(...key: number[]): this {
    // Kept as signed int32 so V8 stores the fields unboxed (unsigned values above 2^31 would be heap doubles).
    this.a = hashInts(1, ...key) | 0;
    this.b = hashInts(2, ...key) | 0;
    this.c = hashInts(3, ...key) | 0;
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32(); // leave the seeding neighbourhood
    return this;
  }

  /**
   * One draw for each id in [from, to), in order, as next() would give them; keeps the ids whose
   * draw u satisfies u * 2^32 < limit[code[id]] (u < limit / 2^32, exactly: both sides are scaled
   * by a power of two), pushing the id and u. The generator runs with its state in locals and
   * compares integers: loading and storing the four fields each draw, and reading a table through
   * a module binding, cost half of this loop (8 ns a draw against 4, measured at 1 M citizens).
   */
  below(code: Uint8Array, limit: Float64Array, from: number, to: number, ids: GrowableColumn<Int32Array>, draws: GrowableColumn<Float64Array>): void {
    let a = this.a, b = this.b, c = this.c, d = this.d;
    for (let i = from; i < to; i++) {
      const t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) | 0;
      if (t >>> 0 >= limit[code[i]]) continue;
      ids.push(i);
      draws.push((t >>> 0) * INV_2_32);
    }
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() * INV_2_32;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller; one of the pair is dropped to keep the state simple). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /**
   * Poisson count. Inversion below 200 is exact; above it the normal approximation is within
   * 0.1% in mean and variance, which is far below the sampling noise of anything it feeds.
   */
  poisson(lambda: number): number {
    return this.poissonFrom(lambda, lambda > 0 && lambda < 200 ? Math.exp(-lambda) : 0);
  }

  /** poisson(lambda) given Math.exp(-lambda), for a caller that draws many with one lambda. */
  poissonFrom(lambda: number, none: number): number {
    if (lambda <= 0) return 0;
    if (lambda < 200) {
      let k = 0;
      let p = none;
      let cdf = p;
      const u = this.next();
      while (u > cdf && k < 10_000) {
        k++;
        p *= lambda / k;
        cdf += p;
      }
      return k;
    }
    return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * this.normal()));
  }
}

/** A named stream of a run: `stream(day, block)` returns a generator positioned for that slot. */
export class Stream {
  private readonly id: number;
  private readonly rng = new Rng();
  constructor(private readonly seed: number, readonly name: string) {
    this.id = nameId(name);
  }
  at(day: number, block = 0): Rng {
    return this.rng.reseed(this.seed, this.id, day, block);
  }
}
