// The coordinator's end of a shard that runs in another process. To the calling thread it is a
// shard worker like any other (same port, same counters: sync-worker.ts);
// it starts the shard process (shard-process.ts) and listens for it on loopback, or, given an
// address to listen on, waits for one started elsewhere; then it relays each task and its
// answer as frames over the socket (wire.ts), one at a time and in order.
// A day's draws are claimed from the calling thread's counter here, a chunk at a time, since
// the process cannot share it.
import { spawn } from "node:child_process";
import { createServer, type Socket } from "node:net";
import { writeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { workerData } from "node:worker_threads";
import type { ShardResult, Task } from "../model/kernels.js";
import { drawChunks } from "../model/behaviour.js";
import { Observations, type ObsColumns } from "../model/context.js";
import { Trail } from "../metrics/trail.js";
import type { ProcessSetup } from "./shard-process.js";
import type { ShardMessage } from "./shard-pool.js";
import { receiveFrames, sendFrame } from "./wire.js";
import { answer as answerLink, workerLink } from "./sync-worker.js";

export interface RelaySetup {
  setup: ProcessSetup;
  /** Listen here (shard k on port + k - 1) for a shard process someone else starts, instead of starting one on loopback. */
  listen?: { host: string; port: number };
}

const link = workerLink();
const data = workerData as Partial<RelaySetup>;
const { listen } = data as RelaySetup;
const shard = data.setup!.shard.index;
const { lo, hi } = data.setup!.shard;
const chunks = drawChunks(data.setup!.world.n);

const answer = (message: ShardResult | { error: string }): void => answerLink(link, message);

let closing = false;
/** The calling thread may be waiting for this shard: tell it why it will not answer, then stop. */
function fail(why: string): void {
  if (closing) return;
  closing = true;
  answer({ error: why });
  process.exit(1);
}

const server = createServer();
const connected = new Promise<Socket>((resolve) => server.once("connection", resolve));
let who = "its process";
server.once("error", (e) => fail(`cannot listen for its process: ${e.message}`));
server.listen(listen ? listen.port + shard - 1 : 0, listen?.host ?? "127.0.0.1", () => {
  const { port: tcpPort } = server.address() as { port: number };
  if (listen) {
    // Written straight to stderr: the calling thread is blocked waiting for this shard.
    writeSync(2, `shard ${shard}: waiting on ${listen.host}:${tcpPort} for its process: credence shard --connect HOST:${tcpPort}\n`);
  } else {
    const script = fileURLToPath(new URL("./shard-process.js", import.meta.url));
    const child = spawn(process.execPath, [script, "127.0.0.1", String(tcpPort)], { stdio: ["ignore", "inherit", "inherit"] });
    who = `its process (pid ${child.pid})`;
    child.on("exit", (code, signal) => fail(`${who} ended with ${signal ? `signal ${signal}` : `exit code ${code}`} before the run did`));
  }
  // A connection lost: say so (for a process started here, after its exit has had time to say more).
  void connected.then((s) =>
    s.on("error", () => undefined).on("close", () => setTimeout(() => fail(`the connection to ${who} closed`), listen ? 0 : 2000).unref()),
  );
});

const replies: ((value: unknown, bytes: number) => void)[] = [];
/** Send a frame and wait for its answer (the process answers in order). */
function ask(socket: Socket, message: ShardMessage): Promise<{ reply: ShardResult | { error: string }; sent: number; received: number }> {
  return new Promise((resolve) => {
    const sent = sendFrame(socket, message);
    replies.push((reply, received) => resolve({ reply: reply as ShardResult | { error: string }, sent, received }));
  });
}

const socket = connected.then((s) => {
  s.setNoDelay(true); // frames are small and each is waited for: do not hold them back
  receiveFrames(s, (value, bytes) => replies.shift()!(value, bytes));
  sendFrame(s, data.setup);
  delete data.setup; // a whole world: the process has it now
  return s;
});

/** The draws: claim chunks from the shared counter until none is left, asking the process for each. */
async function draw(s: Socket, task: Extract<Task, { kind: "draw" }>): Promise<ShardResult | { error: string }> {
  let sent = 0, received = 0, peakRssBytes = 0;
  const drawn: NonNullable<ShardResult["drawn"]> = [];
  for (let k = Atomics.add(task.claim, 0, 1); k < chunks; k = Atomics.add(task.claim, 0, 1)) {
    const r = await ask(s, { task: { kind: "drawChunk", day: task.day, chunk: k } });
    if ("error" in r.reply) return r.reply;
    sent += r.sent;
    received += r.received;
    peakRssBytes = r.reply.wire!.peakRssBytes;
    drawn.push(...r.reply.drawn!);
  }
  // Draws leave no counts, trail rows or touched citizens (background tasks: not merged).
  const nothing: ShardResult = { counts: { at: new Int32Array(0), flows: new Float64Array(0), stocks: new Float64Array(0) }, trail: new Trail().take(), touched: new Int32Array(0) };
  return { ...nothing, drawn, wire: { sent, received, peakRssBytes } };
}

/** Of the day's observations, only those held against the shard's citizens, or misattributed acts of its citizens, cross the wire. */
function heldHere(made: ObsColumns[]): ObsColumns {
  const held = new Observations();
  held.appendConcerning(made, lo, hi);
  return held.columns();
}

async function relay(message: ShardMessage): Promise<void> {
  const s = await socket;
  if (message.task.kind === "close") {
    closing = true;
    sendFrame(s, message);
    s.end();
    server.close();
    link.port.close();
    return;
  }
  if (message.task.kind === "draw") return answer(await draw(s, message.task));
  if (message.task.kind === "points") message = { ...message, task: { ...message.task, obs: [heldHere(message.task.obs)] } };
  const r = await ask(s, message);
  answer("error" in r.reply ? r.reply : { ...r.reply, wire: { ...r.reply.wire!, sent: r.sent, received: r.received } });
}

// One task at a time, in the order given: the answers go back in that order.
let chain = Promise.resolve();
link.port.on("message", (message: ShardMessage) => {
  chain = chain.then(() => relay(message)).catch((e) => answer({ error: e instanceof Error ? e.stack ?? e.message : String(e) }));
});
