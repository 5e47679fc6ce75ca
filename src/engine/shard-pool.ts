// Runs the day's kernels on every shard: shard 0 on the calling thread, the others in worker
// threads over the world's shared arrays. simulate() stays synchronous: the caller hands out
// the tasks, does its own shard, then blocks (Atomics.wait) until each worker has answered,
// and takes the answers with receiveMessageOnPort. Workers exchange only messages with the
// caller (tasks in; counts, trail rows, observations and association charges out), never
// writing another shard's citizens, which is also the boundary a multi-machine run would use.
// With the "processes" transport a worker thread only relays to a shard process of its own
// (shard-relay.ts), and the world's copies are kept in step by patches (replica.ts).
import { performance } from "node:perf_hooks";
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { ShardCounters } from "../metrics/daily.js";
import { createCore, type Sim } from "../model/context.js";
import { shardKernels, type KernelState, type ShardResult, type ShardRunner, type Task } from "../model/kernels.js";
import type { Exchange } from "./result.js";
import { partition, type Shard } from "./shards.js";
import { Replica, patchBytes, replicatedArrays, type Patch } from "./replica.js";
import type { World } from "./world.js";

/** What a worker needs to build its shard's core: the world without its streams (rebuilt from the seed). */
export interface ShardSetup {
  world: Omit<World, "streams">;
  metricNames: string[];
  coverage: Float64Array[];
  detect: Float64Array[];
  listBelow: number;
  listAtLeast: number;
  shards: Shard[];
  shard: Shard;
  /** [tasks sent, answers sent, worker exited]: the worker waits on the first, the caller on the second. */
  control: Int32Array;
  port: MessagePort;
}

/** `message` with every typed array passed through `f` (the rest copied as it is). */
export function mapViews<T>(message: T, f: (view: ArrayBufferView) => ArrayBufferView): T {
  const map = (v: unknown): unknown => {
    if (ArrayBuffer.isView(v)) return f(v);
    if (Array.isArray(v)) return v.map(map);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, map(x)]));
    return v;
  };
  return map(message) as T;
}

/**
 * A task or answer with every typed array that views part of a larger buffer copied down to
 * that part. postMessage clones a view's whole buffer, and the day's buffers are grown ones
 * reused from day to day: an observation or charge batch would otherwise carry its capacity.
 * Arrays on shared memory stay as they are (they are shared, not copied).
 */
export function trimmed<T>(message: T): T {
  return mapViews(message, (v) => (v.buffer instanceof SharedArrayBuffer || v.byteLength === v.buffer.byteLength ? v : (v as Int8Array).slice()));
}

/**
 * A copy with every array on shared memory copied out of it, for another process, which cannot
 * share it; with the buffers of those copies, which nothing else holds (they can be transferred).
 */
function unshared<T>(message: T): { copy: T; buffers: ArrayBuffer[] } {
  const buffers: ArrayBuffer[] = [];
  const copy = mapViews(message, (v) => {
    if (!(v.buffer instanceof SharedArrayBuffer)) return v;
    const own = (v as Int8Array).slice();
    buffers.push(own.buffer as ArrayBuffer);
    return own;
  });
  return { copy, buffers };
}

/** Something to Atomics.wait on for a millisecond (nobody ever notifies it). */
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * The next message on a port, read synchronously. The counter that announces a message is
 * raised after postMessage returns, but a port still being handed to a new worker may deliver
 * it a moment later: wait for it rather than take its absence for an answer.
 */
export function nextMessage(port: MessagePort): unknown {
  for (let tries = 0; ; tries++) {
    const received = receiveMessageOnPort(port);
    if (received) return received.message;
    if (tries > 60_000) throw new Error("a message announced between threads never arrived");
    Atomics.wait(pause, 0, 0, 1);
  }
}

/** How long the caller waits for a worker's answer before deciding it has died. */
const ANSWER_TIMEOUT_MS = 10 * 60_000;

/**
 * What the calling thread hands a shard: a task, with the world's changes for a shard in another
 * process (relayed to it as it is: shard-relay.ts, shard-process.ts).
 */
export interface ShardMessage {
  task: Task | { kind: "close" };
  world?: Patch;
}

/**
 * A shard on a worker thread of this process. The thread runs the kernels itself over the shared
 * world (shard-worker.ts), or relays to a shard process over loopback (shard-relay.ts): the calling
 * thread sees the same port and counters either way.
 */
class ShardWorker {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly control = new Int32Array(new SharedArrayBuffer(12));
  private sent = 0;
  private received = 0;
  /** Why the thread ended, if an error escaped it (see receive). */
  private failure = "";

  constructor(script: "shard-worker.js" | "shard-relay.js", data: object, transfer: ArrayBuffer[] = []) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    // The worker's code is a one-line script that imports its module. A worker inherits the
    // caller's options, and under --input-type (a script given by -e or on stdin) Node refuses
    // to load a worker from a file, but not from a script. The options are not given
    // explicitly, because then Node rejects those that only a process may take (such as
    // --max-old-space-size, which large runs need) rather than leave them out.
    this.worker = new Worker(`import(${JSON.stringify(new URL(`./${script}`, import.meta.url).href)});`, {
      eval: true,
      workerData: { ...data, control: this.control, port: port2 },
      transferList: [port2, ...transfer],
    });
    this.worker.unref();
    this.worker.on("error", (e) => (this.failure = e.message));
  }

  post(task: ShardMessage["task"], world?: Patch): void {
    this.port.postMessage(trimmed<ShardMessage>({ task, world }));
    this.sent++;
    Atomics.store(this.control, 0, this.sent);
    Atomics.notify(this.control, 0);
  }

  /** The answer to the oldest task not yet answered (tasks are answered in order). */
  receive(shard: number): ShardResult {
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    const want = ++this.received;
    while (Atomics.load(this.control, 1) < want) {
      // The worker's last answer is counted before it marks its exit: read the count again.
      if (Atomics.load(this.control, 2) && Atomics.load(this.control, 1) < want) throw new Error(`shard ${shard}'s worker stopped without answering${this.failure && `: ${this.failure}`}`);
      if (Date.now() > deadline) throw new Error(`shard ${shard}'s worker did not answer within ${ANSWER_TIMEOUT_MS / 1000} s`);
      Atomics.wait(this.control, 1, want - 1, 1000);
    }
    const answer = nextMessage(this.port) as ShardResult | { error: string };
    if ("error" in answer) throw new Error(`shard ${shard}: ${answer.error}`);
    return answer;
  }

  close(): void {
    this.post({ kind: "close" });
    this.port.close();
  }
}

/**
 * Where shards other than the calling thread's run: worker threads over the shared world, or
 * processes of their own on loopback that exchange only messages (the boundary a run over
 * several machines would use). Results are the same either way.
 */
export type Transport = "threads" | "processes";

/**
 * The tasks that must see what the calling thread changed in the world: a day's first (after
 * the watch and the phases over the listed) and a restore (a checkpoint's world). A shard in
 * another process gets those changes with them.
 */
const SEES_WORLD_CHANGES = new Set<Task["kind"]>(["behave", "restore"]);

/** A task handed out: its day and kind, and the calling thread's own answer. */
interface Handed {
  day: number;
  kind: Task["kind"];
  result: ShardResult;
}

export class ShardPool implements ShardRunner {
  readonly shards: Shard[];
  private local?: (task: Task) => ShardResult;
  private threads: ShardWorker[] = [];
  /** The shards' counts of a task, summed (kept from task to task, emptied after each). */
  private flowSum = new Float64Array(0);
  private stockSum = new Float64Array(0);
  /** A task handed out by post(): the calling thread's answer, the workers' still to merge. */
  private posted: Handed | undefined;
  /** Background tasks handed out and not yet answered, or their answers once received. */
  private background: "running" | ShardResult[] | undefined;
  /** Time the calling thread spent blocked until workers answered: the cost of uneven shards and of waking threads. */
  waitedMs = 0;
  /** Shards in processes: the world's changes since they were last sent (engine/replica.ts). */
  private replica?: Replica;
  readonly exchange: Exchange = { bytes: {}, worldChangeBytes: { sent: 0, received: 0 }, peakRssBytes: [] };

  constructor(private readonly sim: Sim, threads: number, readonly transport: Transport = "threads", private readonly listen?: { host: string; port: number }) {
    this.shards = partition(sim.n, threads);
  }

  /** Build the kernels: call once every phase has declared its metrics and list thresholds. */
  start(): void {
    const sim = this.sim;
    const metricNames = [...sim.metrics.names];
    const shared = { coverage: sim.coverage, detect: sim.detect, listBelow: sim.listBelow, listAtLeast: sim.listAtLeast };
    const world: World = {
      s: sim.s, seed: sim.seed, n: sim.n, days: sim.days, day: 0, regions: sim.regions, groups: sim.groups, cells: sim.cells,
      cellPopulation: sim.cellPopulation, traitLevels: sim.traitLevels, c: sim.c, g: sim.g, regionWatch: sim.regionWatch, sample: sim.sample, streams: sim.streams,
    };
    const core = createCore(world, new ShardCounters(sim.cells, metricNames), shared);
    this.flowSum = new Float64Array(sim.cells * metricNames.length);
    this.stockSum = new Float64Array(sim.cells * metricNames.length);
    this.local = shardKernels(core, this.shards[0], this.shards);
    const { streams: _streams, ...plain } = world;
    const setup = (shard: Shard): Omit<ShardSetup, "control" | "port"> => ({ world: plain, metricNames, ...shared, shards: this.shards, shard });
    if (this.transport === "threads" || this.shards.length === 1) {
      this.threads = this.shards.slice(1).map((shard) => new ShardWorker("shard-worker.js", setup(shard)));
    } else {
      // The shard processes' copies and the copy changes are found against are taken together, now.
      this.replica = new Replica(replicatedArrays(world, shared));
      this.threads = this.shards.slice(1).map((shard) => {
        const { copy, buffers } = unshared(setup(shard)); // handed over, not copied again: a whole world each
        return new ShardWorker("shard-relay.js", { setup: copy, listen: this.listen }, buffers);
      });
    }
  }

  get workers(): number {
    return this.threads.length;
  }

  run(task: Task | ((shard: Shard) => Task), meanwhile?: () => ShardResult): ShardResult[] {
    const local = this.handOut(task);
    const own = meanwhile?.();
    this.settlePosted(); // a worker answers in order: the posted task's answer comes first
    return this.collect(local, own);
  }

  post(task: Task | ((shard: Shard) => Task)): void {
    this.settlePosted();
    this.posted = this.handOut(task);
  }

  /** Give the workers their tasks, then run the calling thread's own. */
  private handOut(task: Task | ((shard: Shard) => Task)): Handed {
    this.settleBackground(); // a worker answers in order: the background task's answer comes first
    const tasks = this.shards.map((shard) => (typeof task === "function" ? task(shard) : task));
    const world = this.replica && SEES_WORLD_CHANGES.has(tasks[0].kind) ? this.replica.changes() : undefined;
    if (world) this.exchange.worldChangeBytes.sent += patchBytes(world) * this.threads.length;
    this.threads.forEach((w, k) => w.post(tasks[k + 1], world));
    return { day: tasks[0].day, kind: tasks[0].kind, result: this.local!(tasks[0]) };
  }

  /** The workers' answers to a task handed out, merged after the calling thread's (and before `own`, if given). */
  private collect(local: Handed, own?: ShardResult): ShardResult[] {
    const results = [local.result, ...this.receiveAll(local.kind)];
    if (own) results.push(own);
    this.merge(local.day, results);
    return results;
  }

  /** Every worker's answer to the task handed out last, with what shard processes changed taken into the world. */
  private receiveAll(kind: string): ShardResult[] {
    if (!this.threads.length) return [];
    const t = performance.now();
    const answers = this.threads.map((w, k) => w.receive(k + 1));
    this.waitedMs += performance.now() - t;
    answers.forEach((a, k) => {
      const { exchange } = this;
      if (a.world) {
        this.replica!.apply(a.world);
        exchange.worldChangeBytes.received += patchBytes(a.world);
      }
      if (a.wire) {
        const total = (exchange.bytes[kind] ??= { sent: 0, received: 0 });
        total.sent += a.wire.sent;
        total.received += a.wire.received;
        exchange.peakRssBytes[k] = a.wire.peakRssBytes;
      }
    });
    return answers;
  }

  private settlePosted(): void {
    if (!this.posted) return;
    const posted = this.posted;
    this.posted = undefined;
    this.collect(posted);
  }

  /** Background tasks must leave no counts, trail rows or touched citizens: their answers are not merged. */
  startInBackground(tasks: Task[]): void {
    if (this.background) throw new Error("a background task is already running");
    this.settlePosted();
    if (tasks.length !== this.threads.length) throw new Error(`${tasks.length} background tasks for ${this.threads.length} workers`);
    this.threads.forEach((w, k) => w.post(tasks[k]));
    this.background = "running";
  }

  takeBackground(): ShardResult[] {
    this.settleBackground();
    const answers = this.background;
    if (!answers) throw new Error("no background task was started");
    this.background = undefined;
    return answers as ShardResult[];
  }

  private settleBackground(): void {
    if (this.background !== "running") return;
    this.background = this.receiveAll("draw");
  }

  /** Counts are integers (quanta): summed over shards first, they are the same in any order. */
  private merge(day: number, results: ShardResult[]): void {
    const sim = this.sim;
    const flows = this.flowSum, stocks = this.stockSum;
    for (const { counts } of results) {
      for (let m = 0; m < counts.at.length; m++) {
        flows[counts.at[m]] += counts.flows[m];
        stocks[counts.at[m]] += counts.stocks[m];
      }
    }
    sim.metrics.addQuanta(day, flows, stocks);
    flows.fill(0);
    stocks.fill(0);
    for (const r of results) {
      sim.trail.append(r.trail);
      sim.touched.append(r.touched);
    }
  }

  /** The shards' state between days, for a checkpoint; it can be restored onto any number of shards. */
  saveState(day: number): KernelState[] {
    return this.run({ kind: "save", day }).map((r) => r.state!);
  }

  /** Give each shard its part of a saved state (saved with any number of shards). */
  restoreState(day: number, state: KernelState[]): void {
    this.run({ kind: "restore", day, state });
  }

  close(): void {
    for (const w of this.threads) w.close();
    this.threads = [];
  }
}
