// The social graph: households (contiguous ids, implicit) and friendships (compressed slots, see
// Graph in model/world.ts), mostly within a region with a share of long ties. Dropped ties are
// marked, never removed, so the initial degree stays readable for isolation metrics.
import type { Scenario } from "../scenario/schema.js";
import { FAR, friendAt, isAlive, makeStreams, regionOfCell, slotStart, type Graph, type World } from "./world.js";
import { sharedArray } from "../engine/columns.js";
import { evenSplit, type Helpers } from "./build.js";

const kill = (graph: Graph, e: number) => (graph.alive[e >>> 3] &= ~(1 << (e & 7)));

const BLOCK = 65536;
const MAX_GROUP_SHIFT = 6;

/** The slot value for a tie from i to j: the difference, or FAR if it does not fit 16 bits. */
const nearCode = (i: number, j: number): number => (Math.abs(j - i) <= 32767 ? j - i : FAR);

/** What the ties are drawn from: a thread that builds part of the graph needs only this. */
export interface TieSource {
  n: number;
  seed: number;
  groups: number;
  regionStart: Int32Array;
  cell: Uint16Array;
  graph: Scenario["graph"];
}

const tieSource = (world: World): TieSource => ({ n: world.n, seed: world.seed, groups: world.groups, regionStart: world.c.regionStart, cell: world.c.cell, graph: world.s.graph });

/** Blocks of citizens whose ties one stream draws (the unit a thread takes). */
export const tieBlocks = (n: number): number => Math.ceil(n / BLOCK);

/** A batch of ties as drawn: initiator and friend. */
interface Ties {
  from: Int32Array;
  to: Int32Array;
}

/** Ties per batch: enough long ties (1 in 10) for their far ends' misses to overlap when read ahead. */
const TIE_BATCH = 4096;

/**
 * Every tie initiated by the citizens of blocks [from, to), in order, handed over a batch at a
 * time. Re-seeding per block makes a second pass replay the first exactly without storing an
 * edge list, and lets threads take different blocks.
 */
function forEachTieBatch(source: TieSource, from: number, to: number, visit: (ties: Ties, count: number) => void): void {
  const { n, regionStart } = source;
  const half = source.graph.friendsMean / 2; // each tie is initiated by one side
  const none = Math.exp(-half); // the Poisson's first term, the same for everyone
  const longShare = source.graph.longTieShare;
  const hood = source.graph.neighbourhood;
  const stream = makeStreams(source.seed).graph;
  const ties: Ties = { from: new Int32Array(TIE_BATCH), to: new Int32Array(TIE_BATCH) };
  let count = 0;
  for (let b = from; b < to; b++) {
    const rng = stream.at(0, b);
    const end = Math.min(n, (b + 1) * BLOCK);
    for (let i = b * BLOCK; i < end; i++) {
      const k = rng.poissonFrom(half, none);
      const r = regionOfCell(source.cell[i], source.groups);
      // Local ties fall in a window of `hood` citizens around i, clipped to the region: people
      // befriend those who live near them, and near people have near ids, so most ties stay
      // inside one block of citizens (cache-local charges, few cross-shard messages) and fit
      // a 16-bit difference.
      const lo = Math.max(regionStart[r], Math.min(i - (hood >> 1), regionStart[r + 1] - hood));
      const span = Math.min(hood, regionStart[r + 1] - lo);
      for (let e = 0; e < k; e++) {
        const j = rng.next() < longShare ? rng.int(n) : lo + rng.int(span);
        if (j === i) continue;
        if (count === TIE_BATCH) {
          visit(ties, count);
          count = 0;
        }
        ties.from[count] = i;
        ties.to[count++] = j;
      }
    }
  }
  visit(ties, count);
}

// A sum of what the read-ahead touched, kept so that its reads are not dropped as unused.
let readAhead = 0;

/** First pass: add to `degree` each tie of blocks [from, to) (both ends); returns how many tie ends are far. */
export function countTies(source: TieSource, from: number, to: number, degree: Uint32Array): number {
  let far = 0;
  forEachTieBatch(source, from, to, (ties, count) => {
    readAhead += touch(degree, ties.to, count);
    far += countBatch(ties, count, degree);
  });
  return far;
}

function countBatch({ from, to }: Ties, count: number, degree: Uint32Array): number {
  let far = 0;
  for (let q = 0; q < count; q++) {
    const i = from[q], j = to[q];
    degree[i]++;
    degree[j]++;
    if (nearCode(i, j) === FAR) far += 2;
  }
  return far;
}

/**
 * The friends' entries of a batch, read in a loop without branches before the loop that writes
 * them: a long tie's far end is a miss in arrays of gigabytes at 100 M citizens, and one at a
 * time inside the writing loop they could not overlap. Returns a sum of what it read.
 */
function touch(a: Uint32Array | Int16Array, at: Int32Array | Uint32Array, count: number): number {
  let sum = 0;
  for (let q = 0; q < count; q++) sum += a[at[q]];
  return sum;
}

/**
 * Second pass: write each tie of blocks [from, to) at both ends' next free slots (`fill`), and
 * note each far friend with its slot, from `noted` on, to be placed once ranks are known. The
 * friends' next free slots are read ahead, then the slots they point at.
 */
export function fillTies(source: TieSource, from: number, to: number, fill: Uint32Array, near: Int16Array, farSlot: Uint32Array, farFriend: Uint32Array, noted: number): void {
  const slotAhead = new Uint32Array(TIE_BATCH);
  forEachTieBatch(source, from, to, (ties, count) => {
    for (let q = 0; q < count; q++) slotAhead[q] = fill[ties.to[q]]; // the friends' next free slots, read ahead
    readAhead += touch(near, slotAhead, count);
    noted = fillBatch(ties, count, fill, near, farSlot, farFriend, noted);
  });
}

function fillBatch({ from, to }: Ties, count: number, fill: Uint32Array, near: Int16Array, farSlot: Uint32Array, farFriend: Uint32Array, noted: number): number {
  for (let q = 0; q < count; q++) {
    const i = from[q], j = to[q];
    const code = nearCode(i, j);
    const e = fill[i]++, f = fill[j]++;
    near[e] = code;
    near[f] = code === FAR ? FAR : -code;
    if (code === FAR) {
      farSlot[noted] = e;
      farFriend[noted++] = j;
      farSlot[noted] = f;
      farFriend[noted++] = i;
    }
  }
  return noted;
}

/**
 * The friendships, drawn on the calling thread and on `helpers` (build-worker.ts), each taking
 * a run of blocks. Each part counts its blocks' tie ends into a degree array of its own; a
 * citizen's slots then hold part 0's ties first, then part 1's, and so on, each part's in the
 * order it draws them: the same slots, in the same order, as one thread drawing every block.
 */
export function buildGraph(world: World, helpers: Helpers = []): Graph {
  const { n } = world;
  const source = tieSource(world);
  const from = evenSplit(tieBlocks(n), helpers.length + 1);
  const k = from.length - 1;
  const degrees = Array.from({ length: k }, (_, p) => (p === 0 ? new Uint32Array(n + 1) : sharedArray(Uint32Array, n + 1)));
  for (let p = 1; p < k; p++) helpers[p - 1].post({ kind: "countTies", t: source, from: from[p], to: from[p + 1], degree: degrees[p] });
  const farCounts = [countTies(source, from[0], from[1], degrees[0])];
  for (let p = 1; p < k; p++) farCounts.push(helpers[p - 1].receive("the graph build") as number);

  // Each degree array becomes its part's next free slot: after the slots of earlier citizens,
  // and of this citizen in earlier parts.
  let slots = 0;
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < k; p++) {
      const d = degrees[p][i];
      degrees[p][i] = slots;
      slots += d;
    }
  }
  const near = sharedArray(Int16Array, slots);
  const farCount = farCounts.reduce((a, b) => a + b, 0);
  const farSlot = sharedArray(Uint32Array, farCount), farFriend = sharedArray(Uint32Array, farCount);
  for (let p = 1, noted = farCounts[0]; p < k; noted += farCounts[p++]) {
    helpers[p - 1].post({ kind: "fillTies", t: source, from: from[p], to: from[p + 1], fill: degrees[p], near, farSlot, farFriend, noted });
  }
  fillTies(source, from[0], from[1], degrees[0], near, farSlot, farFriend, 0);
  for (let p = 1; p < k; p++) helpers[p - 1].receive("the graph build");

  // The last part's next free slot, once filled, is where the next citizen's slots start.
  const start = degrees[k - 1];
  start.copyWithin(1, 0, n);
  start[0] = 0;
  // Far slots as bits, 32 to a word: the words' running counts are farBefore, and a far friend's
  // rank is its word's count plus the bits below it. Found so, without scanning near and without
  // a branch, the placement's scattered reads overlap (0.7 s against 1.9 s at 10 M citizens).
  const farBits = sharedArray(Int32Array, (slots >>> 5) + 1);
  for (let e = 0; e < farCount; e++) farBits[farSlot[e] >>> 5] |= 1 << (farSlot[e] & 31);
  const farBefore = sharedArray(Uint32Array, farBits.length);
  for (let b = 0, r = 0; b < farBits.length; b++) {
    farBefore[b] = r;
    r += popcount32(farBits[b]);
  }
  // Each far friend has a rank of its own, so the parts place theirs into `far` side by side.
  const far = sharedArray(Uint32Array, farCount);
  const place = evenSplit(farCount, k);
  const farTies: FarTies = { farSlot, farFriend, farBits, farBefore, far };
  for (let p = 1; p < place.length - 1; p++) helpers[p - 1].post({ kind: "placeFar", far: farTies, from: place[p], to: place[p + 1] });
  placeFar(farTies, place[0], place[1]);
  for (let p = 1; p < place.length - 1; p++) helpers[p - 1].receive("the graph build");
  return { ...slotRanges(start, n), near, far, farBefore, alive: sharedArray(Uint8Array, Math.ceil(slots / 8)).fill(0xff) };
}

/** The far friends as noted, with their slots as bits and the words' running counts, and where they go. */
export interface FarTies {
  farSlot: Uint32Array;
  farFriend: Uint32Array;
  farBits: Int32Array;
  farBefore: Uint32Array;
  far: Uint32Array;
}

/** The far friends noted [from, to) written at their ranks in `far`. */
export function placeFar({ farSlot, farFriend, farBits, farBefore, far }: FarTies, from: number, to: number): void {
  for (let e = from; e < to; e++) {
    const slot = farSlot[e], b = slot >>> 5;
    far[farBefore[b] + popcount32(farBits[b] & ((1 << (slot & 31)) - 1))] = farFriend[e];
  }
}

/** Slot starts as a 32-bit base per group and a 16-bit offset per citizen, with the largest group that fits. */
export function slotRanges(start: Uint32Array, n: number): Pick<Graph, "base" | "offset" | "groupShift"> {
  let shift = MAX_GROUP_SHIFT;
  const fits = (s: number) => {
    for (let i = 0; i <= n; i++) if (start[i] - start[(i >>> s) << s] > 0xffff) return false;
    return true;
  };
  while (shift > 0 && !fits(shift)) shift--;
  const base = sharedArray(Uint32Array, (n >>> shift) + 1);
  const offset = sharedArray(Uint16Array, n + 1);
  for (let i = 0; i <= n; i++) {
    if ((i & ((1 << shift) - 1)) === 0) base[i >>> shift] = start[i];
    offset[i] = start[i] - base[i >>> shift];
  }
  return { base, offset, groupShift: shift };
}

/** No ties: a world's graph until buildGraph, which needs the world, has made its friendships. */
export function emptyGraph(n: number): Graph {
  return { base: new Uint32Array((n >>> MAX_GROUP_SHIFT) + 1), offset: new Uint16Array(n + 1), groupShift: MAX_GROUP_SHIFT, near: new Int16Array(0), far: new Uint32Array(0), farBefore: new Uint32Array(1), alive: new Uint8Array(0) };
}

export const initialDegree = (graph: Graph, i: number): number => slotStart(graph, i + 1) - slotStart(graph, i);

/** Set bits of a 32-bit integer. */
function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** Set bits of each byte value. */
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, b) => { let k = 0; for (let x = b; x; x >>= 1) k += x & 1; return k; });

/** Ties still there, counted from the alive bits a byte at a time. */
export function aliveDegree(graph: Graph, i: number): number {
  return aliveIn(graph, slotStart(graph, i), slotStart(graph, i + 1));
}

/** Ties still there among slots first .. end. */
function aliveIn(graph: Graph, first: number, end: number): number {
  let k = 0;
  for (let e = first; e < end; ) {
    const from = e & 7, to = Math.min(8, from + end - e);
    k += POPCOUNT[graph.alive[e >>> 3] & (((1 << to) - 1) & ~((1 << from) - 1))];
    e += to - from;
  }
  return k;
}

/** Is any tie of slots first .. end still there? (Usually the first is: one bit read.) */
export function anyAlive(graph: Graph, first: number, end: number): boolean {
  for (let e = first; e < end; e++) if (isAlive(graph, e)) return true;
  return false;
}

/** Drop the tie at slot e (from i to its friend) on both sides. Returns the friend, or -1 if already dropped. */
export function dropTie(graph: Graph, i: number, e: number): number {
  if (!isAlive(graph, e)) return -1;
  const j = friendAt(graph, i, e);
  kill(graph, e);
  for (let f = slotStart(graph, j), end = slotStart(graph, j + 1); f < end; f++) {
    if (isAlive(graph, f) && friendAt(graph, j, f) === i) {
      kill(graph, f);
      break;
    }
  }
  return j;
}
