// The social graph: households (contiguous ids, implicit) and friendships (compressed slots, see
// Graph in engine/world.ts), mostly within a region with a share of long ties. Dropped ties are
// marked, never removed, so the initial degree stays readable for isolation metrics.
import { FAR, farRank, friendAt, isAlive, regionOf, sharedArray, slotStart, type Graph, type World } from "../engine/world.js";

const kill = (g: Graph, e: number) => (g.alive[e >>> 3] &= ~(1 << (e & 7)));

const BLOCK = 65536;
const MAX_GROUP_SHIFT = 6;

/** The slot value for a tie from i to j: the difference, or FAR if it does not fit 16 bits. */
const nearCode = (i: number, j: number): number => (Math.abs(j - i) <= 32767 ? j - i : FAR);

export function buildGraph(w: World): Graph {
  const { n, c } = w;
  const half = w.s.graph.friendsMean / 2; // each tie is initiated by one side
  const longShare = w.s.graph.longTieShare;
  const hood = w.s.graph.neighbourhood;
  const degree = new Uint32Array(n + 1);

  // Two passes over the same draws: count degrees, then fill. Re-seeding per block makes
  // the second pass replay the first exactly without storing an edge list.
  const forEachTie = (visit: (i: number, j: number) => void) => {
    for (let b = 0; b * BLOCK < n; b++) {
      const rng = w.streams.graph.at(0, b);
      const end = Math.min(n, (b + 1) * BLOCK);
      for (let i = b * BLOCK; i < end; i++) {
        const k = rng.poisson(half);
        const r = regionOf(w, i);
        // Local ties fall in a window of `hood` citizens around i, clipped to the region: people
        // befriend those who live near them, and near people have near ids, so most ties stay
        // inside one block of citizens (cache-local charges, few cross-shard messages) and fit
        // a 16-bit difference.
        const lo = Math.max(c.regionStart[r], Math.min(i - (hood >> 1), c.regionStart[r + 1] - hood));
        const span = Math.min(hood, c.regionStart[r + 1] - lo);
        for (let t = 0; t < k; t++) {
          const j = rng.next() < longShare ? rng.int(n) : lo + rng.int(span);
          if (j !== i) visit(i, j);
        }
      }
    }
  };

  let farCount = 0;
  forEachTie((i, j) => {
    degree[i]++;
    degree[j]++;
    if (nearCode(i, j) === FAR) farCount += 2;
  });
  const start = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) start[i + 1] = start[i] + degree[i];
  const slots = start[n];
  const near = sharedArray(Int16Array, slots);
  // Far friends are first noted with their slot, then placed in slot order once ranks are known.
  const farSlot = new Uint32Array(farCount), farFriend = new Uint32Array(farCount);
  let noted = 0;
  const fill = degree; // reused: the next free slot of each citizen
  fill.set(start.subarray(0, n));
  const place = (i: number, j: number) => {
    const e = fill[i]++;
    near[e] = nearCode(i, j);
    if (near[e] === FAR) { farSlot[noted] = e; farFriend[noted++] = j; }
  };
  forEachTie((i, j) => {
    place(i, j);
    place(j, i);
  });
  const farBefore = sharedArray(Uint32Array, (slots >>> 5) + 1);
  for (let e = 0, r = 0; e <= slots; e++) {
    if ((e & 31) === 0) farBefore[e >>> 5] = r;
    if (e < slots && near[e] === FAR) r++;
  }
  const g: Graph = { ...slotRanges(start, n), near, far: sharedArray(Uint32Array, farCount), farBefore, alive: sharedArray(Uint8Array, Math.ceil(slots / 8)).fill(0xff) };
  for (let k = 0; k < farCount; k++) g.far[farRank(g, farSlot[k])] = farFriend[k];
  return g;
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

export const initialDegree = (g: Graph, i: number): number => slotStart(g, i + 1) - slotStart(g, i);

/** Set bits of each byte value. */
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, b) => { let k = 0; for (let x = b; x; x >>= 1) k += x & 1; return k; });

/** Ties still there, counted from the alive bits a byte at a time. */
export function aliveDegree(g: Graph, i: number): number {
  return aliveIn(g, slotStart(g, i), slotStart(g, i + 1));
}

/** Ties still there among slots first .. end. */
function aliveIn(g: Graph, first: number, end: number): number {
  let k = 0;
  for (let e = first; e < end; ) {
    const from = e & 7, to = Math.min(8, from + end - e);
    k += POPCOUNT[g.alive[e >>> 3] & (((1 << to) - 1) & ~((1 << from) - 1))];
    e += to - from;
  }
  return k;
}

/** Is any tie of slots first .. end still there? (Usually the first is: one bit read.) */
export function anyAlive(g: Graph, first: number, end: number): boolean {
  for (let e = first; e < end; e++) if (isAlive(g, e)) return true;
  return false;
}

/** Drop the tie at slot e (from i to its friend) on both sides. Returns the friend, or -1 if already dropped. */
export function dropTie(g: Graph, i: number, e: number): number {
  if (!isAlive(g, e)) return -1;
  const j = friendAt(g, i, e);
  kill(g, e);
  for (let f = slotStart(g, j), end = slotStart(g, j + 1); f < end; f++) {
    if (isAlive(g, f) && friendAt(g, j, f) === i) {
      kill(g, f);
      break;
    }
  }
  return j;
}
