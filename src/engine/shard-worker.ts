// A shard's thread: imports the shard program named in its setup, builds it over the shared
// world, then answers tasks until told to close (sync-worker.ts). The module is imported inside
// the try, so that even a failure to load becomes an answer rather than a silent death.
import { workerData } from "node:worker_threads";
import type { ShardMessage, ShardTask } from "./shard-pool.js";
import { serve, workerLink } from "./sync-worker.js";

const link = workerLink();
const { module, setup } = workerData as { module: string; setup: object };

let run: ((task: ShardTask) => unknown) | undefined;
let setupError = "";
try {
  const program = (await import(module)) as { startShard(setup: object): (task: ShardTask) => unknown };
  run = program.startShard(setup);
} catch (e) {
  setupError = `could not start: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
}

serve<ShardMessage>(link, (message) => "close" in message, (message) => (run ? run((message as { task: ShardTask }).task) : { error: setupError }));
