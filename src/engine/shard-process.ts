// A shard in a process of its own: `node shard-process.js <host> <port>` connects to its relay
// (shard-relay.ts, in the coordinator), takes the world and its shard in the first frame, then
// answers tasks in order until told to close. Nothing is shared with the coordinator: the
// world is this process's copy, kept in step by patches both ways (replica.ts). The same
// program on another machine would be given the coordinator's address.
import { connect } from "node:net";
import { ShardCounters } from "../metrics/daily.js";
import { createCore } from "../model/context.js";
import { shardKernels, type ShardResult, type Task } from "../model/kernels.js";
import { Replica, replicatedArrays, type Patch } from "./replica.js";
import { mapViews, type ShardSetup } from "./shard-pool.js";
import { makeStreams } from "./world.js";
import { receiveFrames, sendFrame } from "./wire.js";

/** What the coordinator sends first: a shard's setup, its arrays copied out of shared memory. */
export type ProcessSetup = Omit<ShardSetup, "control" | "port">;

/** A task, with the coordinator's changes to the world when it starts a day or restores one. */
export interface ProcessTask {
  task: Task | { kind: "close" };
  world?: Patch;
}

/** The task after which a shard's changes go back: its day's last (the phases over the listed read them next). */
const SENDS_CHANGES = "charges";

const [host, port] = [process.argv[2], Number(process.argv[3])];
const socket = connect(port, host);
socket.setNoDelay(true); // frames are small and each is waited for: do not hold them back
let run: ((task: Task) => ShardResult) | undefined;
let replica: Replica | undefined;

let setupError: string | undefined;

/**
 * The setup with every typed array on a buffer of its own. Deserialized arrays view the frame's
 * buffer, a byte array at whatever offset their bytes had in it; the replica reads every array
 * as 4-byte words.
 */
const aligned = <T>(setup: T): T => mapViews(setup, (v) => (v.byteOffset % 8 ? (v as Int8Array).slice() : v));

receiveFrames(socket, (frame) => {
  if (!run && !setupError) {
    try {
      const setup = aligned(frame as ProcessSetup);
      const world = { ...setup.world, streams: makeStreams(setup.world.seed) };
      const { coverage, detect, listBelow, listAtLeast } = setup;
      replica = new Replica(replicatedArrays(world, { coverage, detect }), { ...setup.shard, n: world.n });
      run = shardKernels(createCore(world, new ShardCounters(world.cells, setup.metricNames), { coverage, detect, listBelow, listAtLeast }), setup.shard, setup.shards);
    } catch (e) {
      setupError = `could not start: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
    }
    return;
  }
  const { task, world } = frame as ProcessTask;
  if (task.kind === "close") {
    socket.end(() => process.exit(0));
    return;
  }
  let answer: ShardResult | { error: string };
  try {
    if (!run) throw new Error(setupError);
    if (world) replica!.apply(world);
    answer = run(task);
    if (task.kind === SENDS_CHANGES) answer.world = replica!.changes();
  } catch (e) {
    answer = { error: e instanceof Error ? e.stack ?? e.message : String(e) };
  }
  if (!("error" in answer)) answer.wire = { sent: 0, received: 0, peakRssBytes: process.resourceUsage().maxRSS * 1024 }; // the relay adds the bytes
  sendFrame(socket, answer);
});
// The coordinator gone (it stopped, or was killed): nothing is left to answer.
socket.on("close", () => process.exit(0));
socket.on("error", () => process.exit(1));
