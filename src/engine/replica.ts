// A world kept in step across processes by messages. A shard process holds its own copy of the
// world; the coordinator (the process that runs the phases over the listed) holds the whole.
// Each side finds what it changed by comparing the arrays that can change with a copy taken at
// the last exchange, and sends the words that differ: the coordinator once a day, before the
// shards' first task; a shard after its day's last one. Comparing bit patterns (the arrays
// seen as integer words) makes a copy exact, -0 and NaN included.
import { int32Column } from "../io/table.js";
import type { World } from "./world.js";

type Words = Uint8Array | Uint16Array | Int32Array;

/** The words of any typed array: 1, 2 or 4 bytes each (8-byte elements as two 4-byte words). */
function wordsOf(a: ArrayBufferView & { BYTES_PER_ELEMENT: number }): Words {
  const size = Math.min(4, a.BYTES_PER_ELEMENT);
  const Type = size === 1 ? Uint8Array : size === 2 ? Uint16Array : Int32Array;
  return new Type(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength / size);
}

/** Citizen arrays written only while the population is built; every other one is replicated. */
const FIXED_CITIZEN_ARRAYS = new Set(["regionStart", "cell", "age", "flags", "householdOffset", "incomeBase", "trait"]);

export interface Replicated {
  name: string;
  words: Words;
  /** Words per citizen, for arrays indexed by citizen (0: the array is not). */
  perCitizen: number;
}

/**
 * The arrays of a world that change during a run, in a fixed order (both sides list the same):
 * the citizens' (all but those fixed at birth), the ties' alive bits, the watch's allocation and
 * the channels' coverage and detection per cell. A new citizen array is replicated unless listed
 * as fixed, so forgetting it costs bytes, not correctness.
 */
export function replicatedArrays(w: Pick<World, "c" | "g" | "regionWatch" | "n">, shared: { coverage: Float64Array[]; detect: Float64Array[] }): Replicated[] {
  const out: Replicated[] = [];
  for (const [name, v] of Object.entries(w.c)) {
    if (FIXED_CITIZEN_ARRAYS.has(name) || !ArrayBuffer.isView(v)) continue;
    const words = wordsOf(v as Float32Array);
    out.push({ name, words, perCitizen: words.length / w.n });
  }
  out.push({ name: "alive", words: wordsOf(w.g.alive), perCitizen: 0 });
  out.push({ name: "regionWatch", words: wordsOf(w.regionWatch), perCitizen: 0 });
  shared.coverage.forEach((a, k) => out.push({ name: `coverage${k}`, words: wordsOf(a), perCitizen: 0 }));
  shared.detect.forEach((a, k) => out.push({ name: `detect${k}`, words: wordsOf(a), perCitizen: 0 }));
  return out;
}

/** Changed words, per replicated array in order: where, and the new bit patterns. */
export interface Patch {
  at: Int32Array[];
  values: Words[];
}

export class Replica {
  private readonly shadow: Words[];

  /** `lo`..`hi`: the citizens whose arrays this side sends (a shard: its own, and no other array). */
  constructor(private readonly arrays: Replicated[], private readonly own?: { lo: number; hi: number }) {
    this.shadow = arrays.map((a) => a.words.slice());
  }

  /** The words that changed since the last exchange; the copy is brought up to date. */
  changes(): Patch {
    const at: Int32Array[] = [], values: Words[] = [];
    this.arrays.forEach(({ words, perCitizen }, k) => {
      const old = this.shadow[k];
      let from = 0, to = words.length;
      if (this.own) [from, to] = perCitizen ? [this.own.lo * perCitizen, this.own.hi * perCitizen] : [0, 0];
      const where = int32Column();
      for (let i = from; i < to; i++) {
        if (words[i] !== old[i]) {
          where.push(i);
          old[i] = words[i];
        }
      }
      const idx = where.view().slice();
      const v = new (words.constructor as new (n: number) => Words)(idx.length);
      for (let m = 0; m < idx.length; m++) v[m] = words[idx[m]];
      at.push(idx);
      values.push(v);
    });
    return { at, values };
  }

  /** Take the other side's changes (into the copy as well: they are not sent back). */
  apply(patch: Patch): void {
    this.arrays.forEach(({ words }, k) => {
      const at = patch.at[k], v = patch.values[k], old = this.shadow[k];
      for (let m = 0; m < at.length; m++) words[at[m]] = old[at[m]] = v[m];
    });
  }
}

/** A patch's size in bytes (positions and values; for the exchange's statistics). */
export const patchBytes = (p: Patch): number => p.at.reduce((n, a, k) => n + a.byteLength + p.values[k].byteLength, 0);
