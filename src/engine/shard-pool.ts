// Runs a day's kernels on every shard of the citizens: shard 0 on the calling thread, the others
// in worker threads over the world's shared arrays. The pool knows no kernel: a task names a
// part and a kernel of the model's shard program, which the calling thread builds for its own
// shard and each worker builds for its shard by importing the program's module. simulate()
// stays synchronous: the caller hands out the tasks, does its own shard, then blocks until each
// worker has answered (sync-worker.ts). Answers are merged in shard order by the caller's
// `merge`, so that what is merged does not depend on the number of threads.
import { performance } from "node:perf_hooks";
import { partition, type Shard } from "./shards.js";
import { SyncWorker } from "./sync-worker.js";

/** A kernel to run on one shard: which part of the shard program, which of its kernels, and what it is given. */
export interface ShardTask {
  part: string;
  kernel: string;
  day: number;
  payload?: unknown;
}

/** What the calling thread hands a worker: a task, or the word to stop. */
export type ShardMessage = { task: ShardTask } | { close: true };

/** A shard program on another thread: the module that builds it (exporting startShard(setup)) and its setup per shard. */
export interface WorkerProgram {
  /** File URL of the module; its startShard(setup) returns the function that runs one task. */
  module: string;
  setup(shard: Shard): object;
}

/** A task handed out: its day, and the calling thread's own answer. */
interface Handed<A> {
  day: number;
  result: A;
}

export class ShardPool<A> {
  readonly shards: Shard[];
  private local?: (task: ShardTask) => A;
  private merge: (day: number, answers: A[]) => void = () => {};
  private threads: SyncWorker<ShardMessage, A>[] = [];
  /** A task handed out by post(): the calling thread's answer, the workers' still to merge. */
  private posted: Handed<A> | undefined;
  /** Background tasks handed out and not yet answered, or their answers once received. */
  private background: "running" | A[] | undefined;
  /** Time the calling thread spent blocked until workers answered: the cost of uneven shards and of waking threads. */
  waitedMs = 0;

  constructor(citizens: number, threads: number) {
    this.shards = partition(citizens, threads);
  }

  /**
   * Start the workers. `local` runs shard 0's tasks on this thread; `merge` takes every task's
   * answers in shard order (then the caller's own work, if run() was given some).
   */
  start(local: (task: ShardTask) => A, worker: WorkerProgram, merge: (day: number, answers: A[]) => void): void {
    this.local = local;
    this.merge = merge;
    this.threads = this.shards.slice(1).map((shard) => new SyncWorker<ShardMessage, A>("shard-worker.js", { module: worker.module, setup: worker.setup(shard) }));
  }

  get workers(): number {
    return this.threads.length;
  }

  /** `meanwhile`: work of the calling thread's own, done after its shard's task while the workers finish theirs; its answer is merged last. */
  run(task: ShardTask | ((shard: Shard) => ShardTask), meanwhile?: () => A): A[] {
    const local = this.handOut(task);
    const own = meanwhile?.();
    this.settlePosted(); // a worker answers in order: the posted task's answer comes first
    return this.collect(local, own);
  }

  /**
   * Hand a task out without waiting for it: its answers are merged, in shard order, when the next
   * task is handed out (before that task's own). A worker then goes from this task to the next
   * one without waiting to be woken in between.
   */
  post(task: ShardTask | ((shard: Shard) => ShardTask)): void {
    this.settlePosted();
    this.posted = this.handOut(task);
  }

  /** Give the workers their tasks, then run the calling thread's own. */
  private handOut(task: ShardTask | ((shard: Shard) => ShardTask)): Handed<A> {
    this.settleBackground(); // a worker answers in order: the background task's answer comes first
    const tasks = this.shards.map((shard) => (typeof task === "function" ? task(shard) : task));
    this.threads.forEach((w, k) => w.post({ task: tasks[k + 1] }));
    return { day: tasks[0].day, result: this.local!(tasks[0]) };
  }

  private collect(local: Handed<A>, own?: A): A[] {
    const results = [local.result, ...this.receiveAll()];
    if (own !== undefined) results.push(own);
    this.merge(local.day, results);
    return results;
  }

  /** Every worker's answer to the task handed out last. */
  private receiveAll(): A[] {
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

  /** Give each worker one task without waiting: work for their idle time while the calling thread runs its phases. Their answers are not merged. */
  startInBackground(tasks: ShardTask[]): void {
    if (this.background) throw new Error("a background task is already running");
    this.settlePosted();
    if (tasks.length !== this.threads.length) throw new Error(`${tasks.length} background tasks for ${this.threads.length} workers`);
    this.threads.forEach((w, k) => w.post({ task: tasks[k] }));
    this.background = "running";
  }

  /** The answers to the tasks started in the background, in worker order (waiting for them if need be). */
  takeBackground(): A[] {
    this.settleBackground();
    const answers = this.background;
    if (!answers) throw new Error("no background task was started");
    this.background = undefined;
    return answers as A[];
  }

  /** Wait for a background task still out, if any, and forget its answers. */
  dropBackground(): void {
    this.settleBackground();
    this.background = undefined;
  }

  private settleBackground(): void {
    if (this.background !== "running") return;
    this.background = this.receiveAll();
  }

  close(): void {
    for (const w of this.threads) w.close({ close: true });
    this.threads = [];
  }
}
