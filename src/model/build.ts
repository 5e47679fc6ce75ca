// A world is built on the calling thread and on helper threads (engine/build-worker.ts): regions
// of citizens taken one by one by whichever thread is free, then contiguous runs of blocks of
// ties, then runs of the far friends to place. A region and a block draw from streams of their
// own, and each far friend has a place of its own, so the world is the same whatever the number
// of threads.
import type { Scenario } from "../scenario/schema.js";
import type { IdentityColumns } from "./world.js";
import type { SyncWorker } from "../engine/sync-worker.js";
import type { FarTies, TieSource } from "./graph.js";

export type BuildTask =
  | { kind: "citizens"; s: Scenario; seed: number; c: IdentityColumns; claimed: Int32Array }
  | { kind: "countTies"; t: TieSource; from: number; to: number; degree: Uint32Array }
  | { kind: "fillTies"; t: TieSource; from: number; to: number; fill: Uint32Array; near: Int16Array; farSlot: Uint32Array; farFriend: Uint32Array; noted: number }
  | { kind: "placeFar"; far: FarTies; from: number; to: number }
  | { kind: "close" };

/** The helper threads of a build; helper k draws the ties of part k + 1 (part 0 is the calling thread's). */
export type Helpers = SyncWorker<BuildTask, unknown>[];

/** Boundaries of `parts` runs of [0, total) as even as whole units allow (fewer if total is smaller). */
export function evenSplit(total: number, parts: number): number[] {
  const k = Math.max(1, Math.min(parts, total));
  return Array.from({ length: k + 1 }, (_, p) => Math.floor((p * total) / k));
}
