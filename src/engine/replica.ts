// A world kept in step across processes by messages. A shard process holds its own copy of the
// world; the coordinator (the process that runs the phases over the listed) holds the whole.
// Each side finds what it changed by comparing the arrays that can change with a copy taken at
// the last exchange, and sends the words that differ: the coordinator once a day, before the
// shards' first task; a shard after its day's last one. Comparing bit patterns (the arrays
// seen as 4-byte words) makes a copy exact, -0 and NaN included.
import { int32Column } from "../io/table.js";
import type { World } from "./world.js";

/**
 * An array as 4-byte words, whatever its element type, and the bytes after the last whole word:
 * the comparison loops then see one array type only (several made them four times slower).
 */
interface Words {
  body: Int32Array;
  tail: Uint8Array;
}

function wordsOf(a: ArrayBufferView): Words {
  const whole = a.byteLength >>> 2;
  if (a.byteOffset % 4) throw new Error("a replicated array must start on a 4-byte boundary");
  return { body: new Int32Array(a.buffer as ArrayBuffer, a.byteOffset, whole), tail: new Uint8Array(a.buffer as ArrayBuffer, a.byteOffset + whole * 4, a.byteLength - whole * 4) };
}

/** Citizen arrays written only while the population is built; every other one is replicated. */
const FIXED_CITIZEN_ARRAYS = new Set(["regionStart", "cell", "age", "flags", "householdOffset", "incomeBase", "traits"]);

export interface Replicated {
  name: string;
  words: Words;
  /** Bytes per citizen, for arrays indexed by citizen (0: the array is not). */
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
    out.push({ name, words: wordsOf(v), perCitizen: v.byteLength / w.n });
  }
  out.push({ name: "alive", words: wordsOf(w.g.alive), perCitizen: 0 });
  out.push({ name: "regionWatch", words: wordsOf(w.regionWatch), perCitizen: 0 });
  shared.coverage.forEach((a, k) => out.push({ name: `coverage${k}`, words: wordsOf(a), perCitizen: 0 }));
  shared.detect.forEach((a, k) => out.push({ name: `detect${k}`, words: wordsOf(a), perCitizen: 0 }));
  return out;
}

/** Changed words, then changed tail bytes, per replicated array in order: where, and the new bit patterns. */
export interface Patch {
  at: Int32Array[];
  values: Int32Array[];
  tailAt: Int32Array[];
  tailValues: Uint8Array[];
}

/** Positions in `now` that differ from `old`, within [from, to); `old` is brought up to date. */
function differing(now: Int32Array, old: Int32Array, from: number, to: number): Int32Array {
  const where = int32Column();
  for (let i = from; i < to; i++) {
    if (now[i] !== old[i]) {
      where.push(i);
      old[i] = now[i];
    }
  }
  return where.view().slice();
}

export class Replica {
  private readonly shadow: Words[];

  /** `own`: the citizens whose arrays this side sends (a shard: its own, and no other array); all if absent. */
  constructor(private readonly arrays: Replicated[], private readonly own?: { lo: number; hi: number; n: number }) {
    // A word must not hold two sides' citizens: shards start and end on whole blocks (or at n).
    for (const { name, perCitizen } of own ? arrays : []) {
      const edge = (i: number) => i === own!.n || (i * perCitizen) % 4 === 0;
      if (perCitizen && !(edge(own!.lo) && edge(own!.hi))) throw new Error(`replica: citizens ${own!.lo}..${own!.hi} do not start and end on whole words of ${name}`);
    }
    this.shadow = arrays.map(({ words }) => ({ body: words.body.slice(), tail: words.tail.slice() }));
  }

  /** The words that changed since the last exchange; the copy is brought up to date. */
  changes(): Patch {
    const p: Patch = { at: [], values: [], tailAt: [], tailValues: [] };
    this.arrays.forEach(({ words, perCitizen }, k) => {
      const old = this.shadow[k];
      let [from, to, tail] = [0, words.body.length, words.tail.length];
      if (this.own) {
        // Shards start on whole blocks of citizens, so a word never holds two shards' citizens.
        const { lo, hi, n } = this.own;
        [from, to, tail] = perCitizen ? [(lo * perCitizen) >>> 2, (hi * perCitizen) >>> 2, hi === n ? tail : 0] : [0, 0, 0];
      }
      const at = differing(words.body, old.body, from, to);
      const values = new Int32Array(at.length);
      for (let m = 0; m < at.length; m++) values[m] = words.body[at[m]];
      p.at.push(at);
      p.values.push(values);
      // The tail (under 4 bytes), byte by byte.
      const tailAt: number[] = [];
      for (let i = 0; i < tail; i++) {
        if (words.tail[i] !== old.tail[i]) {
          tailAt.push(i);
          old.tail[i] = words.tail[i];
        }
      }
      p.tailAt.push(Int32Array.from(tailAt));
      p.tailValues.push(Uint8Array.from(tailAt, (i) => words.tail[i]));
    });
    return p;
  }

  /** Take the other side's changes (into the copy as well: they are not sent back). */
  apply(p: Patch): void {
    this.arrays.forEach(({ words }, k) => {
      const old = this.shadow[k];
      const at = p.at[k], v = p.values[k];
      for (let m = 0; m < at.length; m++) words.body[at[m]] = old.body[at[m]] = v[m];
      const tailAt = p.tailAt[k], tv = p.tailValues[k];
      for (let m = 0; m < tailAt.length; m++) words.tail[tailAt[m]] = old.tail[tailAt[m]] = tv[m];
    });
  }
}

/** A patch's size in bytes (positions and values; for the exchange's statistics). */
export const patchBytes = (p: Patch): number => [...p.at, ...p.values, ...p.tailAt, ...p.tailValues].reduce((n, a) => n + a.byteLength, 0);
