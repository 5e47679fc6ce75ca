// Kernels: the per-shard work of a mechanism, the hot loops over the citizens one shard owns. A
// mechanism that has kernels provides a shard part (ShardPart): built once per shard over the
// shard's core, on whichever thread runs that shard, it runs its kernels by name. A phase calls
// a kernel through a typed handle (Kernel<Payload, Output>) and gets one answer per shard: the
// kernel's output, with the counts, trail rows and touched citizens it left in the core, merged
// into the run in shard order. The parts are listed in model/regime.ts; model/shard.ts builds
// them; engine/shard-pool.ts carries the tasks and knows none of this.
import type { Shard } from "../engine/shards.js";
import { ShardPool, type ShardTask } from "../engine/shard-pool.js";
import type { ShardCounters, ShardCounts } from "../engine/counters.js";
import type { TrailColumns } from "../metrics/trail.js";
import type { Core, Sim } from "./context.js";

/** A typed handle on a kernel: the shard part that has it, its name, and (as types) its payload and output. */
export interface Kernel<Payload, Output> {
  part: string;
  name: string;
  /**
   * "day": it reads state the day's phases change (scores, lists, coverage), so it runs at its
   * place in the day. "seed": it reads only what the scenario and seed built, so it may run
   * ahead, while the calling thread runs other phases (the draws of tomorrow's behaviour).
   */
  sees: "day" | "seed";
  /** Never set: carries the types. */
  readonly types?: [Payload, Output];
}

export const kernel = <Payload, Output>(part: string, name: string, sees: Kernel<Payload, Output>["sees"] = "day"): Kernel<Payload, Output> => ({ part, name, sees });

/** A mechanism's kernels over one shard's core, and what it keeps between days outside the shared world (for checkpoints). */
export interface ShardPart {
  kernels: Record<string, (day: number, payload: never) => unknown>;
  save?(): unknown;
  /** Take, from what every shard saved (with any number of shards), the part about this shard's citizens. */
  restore?(saved: unknown[], owns: (i: number) => boolean): void;
}

export type ShardPartFactory = (core: Core, shard: Shard, shards: Shard[]) => ShardPart;

/** One shard's answer to a task. */
export interface ShardResult<Output = unknown> {
  /** Counts per cell and metric, in quanta (see engine/counters.ts). */
  counts: ShardCounts;
  trail: TrailColumns;
  touched: Int32Array;
  out: Output;
}

/** The checkpoint kernels every shard has (model/shard.ts): each part's saved state, by part. */
export const SAVE = kernel<undefined, Record<string, unknown>>("shard", "save");
export const RESTORE = kernel<Record<string, unknown>[], undefined>("shard", "restore");
/** A timeline change: every shard puts the scenario in force and builds its parts again, keeping their state. */
export const REBUILD = kernel<InForce, undefined>("shard", "rebuild");

/** What a shard's core takes from the scenario in force. */
export interface InForce {
  scenario: Core["s"];
  listBelow: number;
  listAtLeast: number;
}

const task = <P>(k: Kernel<P, unknown>, day: number, payload: P): ShardTask => ({ part: k.part, kernel: k.name, day, payload });

/** How phases run kernels: on every shard, merging counts, trail rows and touched citizens into the run. */
export class ShardRunner {
  readonly pool: ShardPool<ShardResult>;
  /** The shards' counts of a task, summed (kept from task to task, emptied after each). */
  private flowSum = new Float64Array(0);
  private stockSum = new Float64Array(0);

  constructor(private readonly sim: Sim, threads: number) {
    this.pool = new ShardPool<ShardResult>(sim.n, threads);
  }

  get shards(): Shard[] {
    return this.pool.shards;
  }

  /** Worker threads besides the calling one (0: every shard runs on the calling thread). */
  get workers(): number {
    return this.pool.workers;
  }

  /** `meanwhile`: work of the calling thread's own, after its shard's task while the workers finish theirs; merged after every shard's, returned last. */
  run<P, O>(k: Kernel<P, O>, day: number, payload: P | ((shard: Shard) => P), meanwhile?: () => ShardResult<O>): ShardResult<O>[] {
    return this.pool.run(this.tasks(k, day, payload), meanwhile) as ShardResult<O>[];
  }

  /** Hand a task out without waiting: its answers are merged when the next task is handed out. */
  post<P>(k: Kernel<P, unknown>, day: number, payload: P | ((shard: Shard) => P)): void {
    this.pool.post(this.tasks(k, day, payload));
  }

  /** Give each worker one task (one payload each) without waiting; background tasks must leave no counts, trail rows or touched citizens. */
  startInBackground<P>(k: Kernel<P, unknown>, day: number, payloads: P[]): void {
    // Run while the calling thread changes the day's state: only a kernel that cannot see it.
    if (k.sees !== "seed") throw new Error(`kernel ${k.part}.${k.name} reads the day's state: it cannot run in the background`);
    this.pool.startInBackground(payloads.map((p) => task(k, day, p)));
  }

  takeBackground<O>(_k: Kernel<unknown, O>): ShardResult<O>[] {
    return this.pool.takeBackground() as ShardResult<O>[];
  }

  /** The shards' state between days, for a checkpoint; it can be restored onto any number of shards. */
  save(day: number): Record<string, unknown>[] {
    return this.run(SAVE, day, undefined).map((r) => r.out);
  }

  restore(day: number, saved: Record<string, unknown>[]): void {
    this.run(RESTORE, day, saved);
  }

  /** Every shard's parts built again over the scenario in force; a background task still out (tomorrow's draws) is dropped: its phase is gone, and the draws are made again the same. */
  rebuild(day: number, inForce: InForce): void {
    this.pool.dropBackground();
    this.run(REBUILD, day, inForce);
  }

  private tasks<P>(k: Kernel<P, unknown>, day: number, payload: P | ((shard: Shard) => P)): ShardTask | ((shard: Shard) => ShardTask) {
    return typeof payload === "function" ? (shard: Shard) => task(k, day, (payload as (shard: Shard) => P)(shard)) : task(k, day, payload);
  }

  /** Counts are integers (quanta): summed over shards first, they are the same in any order. */
  merge(day: number, results: ShardResult[]): void {
    const sim = this.sim;
    const width = sim.cells * sim.metrics.names.length;
    if (this.flowSum.length !== width) {
      this.flowSum = new Float64Array(width);
      this.stockSum = new Float64Array(width);
    }
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

  close(): void {
    this.pool.close();
  }
}

/** A task's answer: its output, with the counts, trail rows and touched citizens it left in the core (taken: the next task starts from none). */
export function answer<O>(core: Core, out: O): ShardResult<O> {
  return { out, counts: (core.metrics as ShardCounters).take(), trail: core.trail.take(), touched: core.touched.view().slice() };
}
