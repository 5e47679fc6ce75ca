// A world is built on the calling thread and on helper threads (engine/build-worker.ts), each
// taking a contiguous part: regions for the citizens, blocks for the ties. Every part draws
// from streams of its own (a region's, a block's), so the world is the same whatever the
// number of threads.
import type { Scenario } from "../scenario/schema.js";
import type { Citizens } from "../engine/world.js";
import type { SyncWorker } from "../engine/sync-worker.js";
import type { TieSource } from "./graph.js";

export type BuildTask =
  | { kind: "citizens"; s: Scenario; seed: number; c: Citizens; from: number; to: number }
  | { kind: "countTies"; t: TieSource; from: number; to: number; degree: Uint32Array }
  | { kind: "fillTies"; t: TieSource; from: number; to: number; fill: Uint32Array; near: Int16Array; farSlot: Uint32Array; farFriend: Uint32Array; noted: number }
  | { kind: "close" };

/** Helper k takes part k + 1 (part 0 is the calling thread's). */
export type Helpers = SyncWorker<BuildTask, unknown>[];

/** Boundaries of `parts` runs of [0, total) as even as whole units allow (fewer if total is smaller). */
export function evenSplit(total: number, parts: number): number[] {
  const k = Math.max(1, Math.min(parts, total));
  return Array.from({ length: k + 1 }, (_, p) => Math.floor((p * total) / k));
}

/** Boundaries of `parts` runs of units (regions) holding about as many citizens each. */
export function sizedSplit(sizes: number[], parts: number): number[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  const from = [0];
  for (let u = 0, sum = 0; u < sizes.length; sum += sizes[u++]) {
    // A part ends before the unit whose middle lies past the part's share.
    if (u > 0 && from.length < parts && sum + sizes[u] / 2 > (from.length * total) / parts) from.push(u);
  }
  from.push(sizes.length);
  return from;
}
