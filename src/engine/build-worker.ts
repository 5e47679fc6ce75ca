// A helper thread of a world's build: it imports the build program named in its setup and runs
// each task it is handed, answering with what the calling thread needs next. The module is
// imported inside the try, so that even a failure to load becomes an answer rather than a silent death.
import { workerData } from "node:worker_threads";
import { serve, workerLink } from "./sync-worker.js";

const link = workerLink();
const { module } = workerData as { module: string };
let run: (task: { kind: string }) => unknown;
try {
  const program = (await import(module)) as { runBuildTask(task: { kind: string }): unknown };
  run = program.runBuildTask;
} catch (e) {
  const why = `could not start: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
  run = () => ({ error: why });
}

serve<{ kind: string }>(link, (task) => task.kind === "close", (task) => run(task));
