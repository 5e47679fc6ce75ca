// A helper thread of a world's build (model/build.ts): it fills the part of the shared arrays
// each task names, and answers with what the calling thread needs next. Modules are imported
// inside the try, so that even a failure to load becomes an answer rather than a silent death.
import type { BuildTask } from "../model/build.js";
import { serve, workerLink } from "./sync-worker.js";

const link = workerLink();
let run: (task: BuildTask) => unknown;
try {
  const [{ fillCitizens }, { countTies, fillTies, placeFar }] = await Promise.all([import("../model/population.js"), import("../model/graph.js")]);
  run = (task) => {
    switch (task.kind) {
      case "citizens": return fillCitizens(task.s, task.seed, task.c, task.claimed), 0;
      case "countTies": return countTies(task.t, task.from, task.to, task.degree);
      case "fillTies": return fillTies(task.t, task.from, task.to, task.fill, task.near, task.farSlot, task.farFriend, task.noted), 0;
      case "placeFar": return placeFar(task.far, task.from, task.to), 0;
      default: throw new Error(`unknown build task ${task.kind}`);
    }
  };
} catch (e) {
  const why = `could not start: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
  run = () => ({ error: why });
}

serve<BuildTask>(link, (task) => task.kind === "close", (task) => run(task));
