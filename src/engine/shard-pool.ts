// Runs the day's kernels on every shard: shard 0 on the calling thread, the others in worker
// threads over the world's shared arrays. simulate() stays synchronous: the caller hands out
// the tasks, does its own shard, then blocks until each worker has answered (sync-worker.ts).
// Workers exchange only messages with the caller (tasks in; counts, trail rows, observations and
// association charges out), never writing another shard's citizens.
import { performance } from "node:perf_hooks";
import { ShardCounters } from "../metrics/daily.js";
import { createCore, type Sim } from "../model/context.js";
import { shardKernels, type KernelState, type ShardResult, type ShardRunner, type Task } from "../model/kernels.js";
import { partition, type Shard } from "./shards.js";
import type { World } from "./world.js";
import { SyncWorker } from "./sync-worker.js";

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
}

/** What the calling thread hands a shard: a task, or the word to stop. */
export interface ShardMessage {
  task: Task | { kind: "close" };
}

/** A shard on a worker thread of this process: it runs the kernels over the shared world (shard-worker.ts). */
type ShardWorker = SyncWorker<ShardMessage, ShardResult>;

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

  constructor(private readonly sim: Sim, threads: number) {
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
    const setup = (shard: Shard): ShardSetup => ({ world: plain, metricNames, ...shared, shards: this.shards, shard });
    this.threads = this.shards.slice(1).map((shard) => new SyncWorker<ShardMessage, ShardResult>("shard-worker.js", setup(shard)));
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
    this.threads.forEach((w, k) => w.post({ task: tasks[k + 1] }));
    return { day: tasks[0].day, kind: tasks[0].kind, result: this.local!(tasks[0]) };
  }

  /** The workers' answers to a task handed out, merged after the calling thread's (and before `own`, if given). */
  private collect(local: Handed, own?: ShardResult): ShardResult[] {
    const results = [local.result, ...this.receiveAll()];
    if (own) results.push(own);
    this.merge(local.day, results);
    return results;
  }

  /** Every worker's answer to the task handed out last. */
  private receiveAll(): ShardResult[] {
    if (!this.threads.length) return [];
    const t = performance.now();
    const answers = this.threads.map((w, k) => w.receive(`shard ${k + 1}`));
    this.waitedMs += performance.now() - t;
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
    this.threads.forEach((w, k) => w.post({ task: tasks[k] }));
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
    this.background = this.receiveAll();
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
    for (const w of this.threads) w.close({ task: { kind: "close" } });
    this.threads = [];
  }
}
