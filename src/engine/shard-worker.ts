// A shard's thread: builds its kernels over the shared world, then answers tasks until told to
// close. It blocks on Atomics.wait rather than an event loop, because the caller, blocked in
// turn, only reads answers synchronously (see shard-pool.ts). Modules are imported inside the
// try, so that even a failure to load becomes an answer rather than a silent death.
import { workerData, type MessagePort } from "node:worker_threads";
import type { ShardResult, Task } from "../model/kernels.js";
import type { ShardSetup } from "./shard-pool.js";

const setup = workerData as ShardSetup;
const { control, port } = setup;
// The caller polls this flag while it waits, so a worker that dies never leaves it waiting.
process.on("exit", () => {
  Atomics.store(control, 2, 1);
  Atomics.notify(control, 1);
});

let run: ((task: Task) => ShardResult) | undefined;
let nextMessage: ((port: MessagePort) => unknown) | undefined;
let trimmed = <T>(message: T): T => message;
let setupError: string | undefined;
try {
  const [{ ShardCounters }, { createCore }, { shardKernels }, pool, { makeStreams }] = await Promise.all([
    import("../metrics/daily.js"), import("../model/context.js"), import("../model/kernels.js"), import("./shard-pool.js"), import("./world.js"),
  ]);
  nextMessage = pool.nextMessage;
  trimmed = pool.trimmed;
  const world = { ...setup.world, streams: makeStreams(setup.world.seed) };
  const { coverage, detect, listBelow, listAtLeast } = setup;
  const core = createCore(world, new ShardCounters(world.cells, setup.metricNames), { coverage, detect, listBelow, listAtLeast });
  run = shardKernels(core, setup.shard, setup.shards);
} catch (e) {
  setupError = `could not start: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
}

let seen = 0;
for (;;) {
  Atomics.wait(control, 0, seen);
  seen++;
  if (!nextMessage) {
    port.postMessage({ error: setupError });
  } else {
    const { task } = nextMessage(port) as { task: Task | { kind: "close" } };
    if (task.kind === "close") break;
    let answer: ShardResult | { error: string };
    try {
      answer = run ? run(task) : { error: setupError! };
    } catch (e) {
      answer = { error: e instanceof Error ? e.stack ?? e.message : String(e) };
    }
    port.postMessage(trimmed(answer));
  }
  Atomics.add(control, 1, 1);
  Atomics.notify(control, 1);
}
port.close();
