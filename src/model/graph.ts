// The social graph: households (contiguous ids, implicit) and friendships (CSR adjacency),
// mostly within a region with a share of long ties. Dropped ties are marked, never removed,
// so the initial degree stays readable for isolation metrics.
import { isAlive, regionOf, sharedArray, type Graph, type World } from "../engine/world.js";

const kill = (g: Graph, e: number) => (g.alive[e >>> 3] &= ~(1 << (e & 7)));

const BLOCK = 65536;

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
        // inside one block of citizens (cache-local charges now, few cross-shard messages later).
        const lo = Math.max(c.regionStart[r], Math.min(i - (hood >> 1), c.regionStart[r + 1] - hood));
        const span = Math.min(hood, c.regionStart[r + 1] - lo);
        for (let t = 0; t < k; t++) {
          const j = rng.next() < longShare ? rng.int(n) : lo + rng.int(span);
          if (j !== i) visit(i, j);
        }
      }
    }
  };

  forEachTie((i, j) => {
    degree[i]++;
    degree[j]++;
  });
  const start = sharedArray(Uint32Array, n + 1);
  for (let i = 0; i < n; i++) start[i + 1] = start[i] + degree[i];
  const adj = sharedArray(Uint32Array, start[n]);
  const fill = start.slice(0, n);
  forEachTie((i, j) => {
    adj[fill[i]++] = j;
    adj[fill[j]++] = i;
  });
  const aliveDegree = sharedArray(Uint16Array, n);
  for (let i = 0; i < n; i++) aliveDegree[i] = Math.min(65535, degree[i]);
  return { start, adj, alive: sharedArray(Uint8Array, Math.ceil(adj.length / 8)).fill(0xff), aliveDegree };
}

export const initialDegree = (g: Graph, i: number): number => g.start[i + 1] - g.start[i];

/** Drop the tie at adjacency slot e (from i to adj[e]) on both sides. Returns the friend, or -1 if already dropped. */
export function dropTie(g: Graph, i: number, e: number): number {
  if (!isAlive(g, e)) return -1;
  const j = g.adj[e];
  kill(g, e);
  g.aliveDegree[i]--;
  for (let f = g.start[j]; f < g.start[j + 1]; f++) {
    if (g.adj[f] === i && isAlive(g, f)) {
      kill(g, f);
      g.aliveDegree[j]--;
      break;
    }
  }
  return j;
}
