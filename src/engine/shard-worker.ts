// A shard's thread: builds its kernels over the shared world, then answers tasks until told to
// close (sync-worker.ts). Modules are imported inside the try, so that even a failure to load
// becomes an answer rather than a silent death.
import { workerData } from "node:worker_threads";
import type { ShardResult, Task } from "../model/kernels.js";
import type { ShardMessage, ShardSetup } from "./shard-pool.js";
import { serve, workerLink } from "./sync-worker.js";

const link = workerLink();
const setup = workerData as ShardSetup;

let run: ((task: Task) => ShardResult) | undefined;
let setupError = "";
try {
  const [{ ShardCounters }, { createCore }, { shardKernels }, { makeStreams }] = await Promise.all([
    import("../metrics/daily.js"), import("../model/context.js"), import("../model/kernels.js"), import("./world.js"),
  ]);
  const world = { ...setup.world, streams: makeStreams(setup.world.seed) };
  const { coverage, detect, listBelow, listAtLeast } = setup;
  const core = createCore(world, new ShardCounters(world.cells, setup.metricNames), { coverage, detect, listBelow, listAtLeast });
  run = shardKernels(core, setup.shard, setup.shards);
} catch (e) {
  setupError = `could not start: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
}

serve<ShardMessage>(link, ({ task }) => task.kind === "close", ({ task }) => (run ? run(task as Task) : { error: setupError }));
