// The build program a helper thread runs (engine/build-worker.ts imports this module by URL):
// each task fills the part of the shared arrays it names (model/build.ts).
import type { BuildTask } from "./build.js";
import { fillCitizens } from "./population.js";
import { countTies, fillTies, placeFar } from "./graph.js";

export function runBuildTask(task: BuildTask): unknown {
  switch (task.kind) {
    case "citizens": return fillCitizens(task.s, task.seed, task.c, task.claimed), 0;
    case "countTies": return countTies(task.t, task.from, task.to, task.degree);
    case "fillTies": return fillTies(task.t, task.from, task.to, task.fill, task.near, task.farSlot, task.farFriend, task.noted), 0;
    case "placeFar": return placeFar(task.far, task.from, task.to), 0;
    default: throw new Error(`unknown build task ${task.kind}`);
  }
}
