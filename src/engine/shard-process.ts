// A shard in a process of its own: `node shard-process.js <host> <port>` (or `credence shard
// --connect host:port`) connects to its relay (shard-relay.ts, in the coordinator), takes the
// world and its shard in the first frame, then answers tasks in order until told to close.
// Nothing is shared with the coordinator: the world is this process's copy, kept in step by
// patches both ways (replica.ts). The relay starts it, or, with the coordinator listening on an
// address (`credence run --listen`), anyone may, on any machine that reaches that address.
import { connect, type Socket } from "node:net";
import { pathToFileURL } from "node:url";
import { ShardCounters } from "../metrics/daily.js";
import { createCore } from "../model/context.js";
import { shardKernels, type ShardResult, type Task } from "../model/kernels.js";
import { Replica, replicatedArrays } from "./replica.js";
import type { ShardMessage, ShardSetup } from "./shard-pool.js";
import { mapViews } from "./sync-worker.js";
import { makeStreams } from "./world.js";
import { receiveFrames, sendFrame } from "./wire.js";

/** What the coordinator sends first: a shard's setup, its arrays copied out of shared memory. */
export type ProcessSetup = Omit<ShardSetup, "control" | "port">;

/** The task after which a shard's changes go back: its day's last (the phases over the listed read them next). */
const SENDS_CHANGES = "charges";

/**
 * The setup with every typed array on a buffer of its own. Deserialized arrays may view the
 * frame's buffer, at whatever offset their bytes had in it, and the replica reads every array as
 * 4-byte words; copied, they also let the frame (a whole world) go.
 */
const ownBuffers = <T>(setup: T): T => mapViews(setup, (v) => (v as Int8Array).slice());

/**
 * Connect to the coordinator at host:port, serve its tasks, and exit when it closes the connection.
 * `retryMs`: how long to keep trying while nothing listens there yet (a shard started by hand, on
 * another machine, may start first; one started by its relay must not outlive a coordinator that
 * died before it connected).
 */
export function serveShard(host: string, port: number, { retryMs = 0, onConnected = () => undefined }: { retryMs?: number; onConnected?: () => void } = {}): void {
  const until = Date.now() + retryMs;
  const attempt = (): void => {
    const socket = connect(port, host);
    socket.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNREFUSED" && Date.now() < until) setTimeout(attempt, 200);
      else {
        process.stderr.write(`credence shard: cannot reach the coordinator at ${host}:${port}: ${e.message}\n`);
        process.exit(1);
      }
    });
    socket.once("connect", () => {
      socket.removeAllListeners("error");
      onConnected();
      serve(socket);
    });
  };
  attempt();
}

function serve(socket: Socket): void {
  socket.setNoDelay(true); // frames are small and each is waited for: do not hold them back
  let run: ((task: Task) => ShardResult) | undefined;
  let replica: Replica | undefined;
  let setupError: string | undefined;

  receiveFrames(socket, (frame) => {
    if (!run && !setupError) {
      try {
        const setup = ownBuffers(frame as ProcessSetup);
        const world = { ...setup.world, streams: makeStreams(setup.world.seed) };
        const { coverage, detect, listBelow, listAtLeast } = setup;
        replica = new Replica(replicatedArrays(world, { coverage, detect }), { ...setup.shard, n: world.n });
        run = shardKernels(createCore(world, new ShardCounters(world.cells, setup.metricNames), { coverage, detect, listBelow, listAtLeast }), setup.shard, setup.shards);
      } catch (e) {
        setupError = `could not start: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
      }
      return;
    }
    const { task, world } = frame as ShardMessage;
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
}

// Started by a relay as `node shard-process.js <host> <port>` (credence shard --connect does the same).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) serveShard(process.argv[2], Number(process.argv[3]));
