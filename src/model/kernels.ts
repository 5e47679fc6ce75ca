// The per-shard work of a day: the hot loops of behaviour, observation and scoring over the
// citizens one shard owns. A task runs on the main thread or in a worker (engine/shard-pool.ts)
// with the same code; what a shard produces (counts, trail rows, touched citizens, and the
// task's own output) comes back as plain data and is merged in shard order.
import type { Shard } from "../engine/shards.js";
import type { ShardCounts } from "../metrics/daily.js";
import type { TrailColumns } from "../metrics/trail.js";
import { answer, type Core, type ObsColumns } from "./context.js";
import { behaviourKernel, drawClaimed, type Candidates } from "./behaviour.js";
import { observationKernel } from "./observation.js";
import { scoringKernel, type ChargeColumns, type ExpiryState } from "./scoring.js";

export type Task =
  /** The day's behaviour draws, any shard's (they read no state that changes), in chunks taken from a shared counter. */
  | { kind: "draw"; day: number; claim: Int32Array }
  /** The acts of the shard's citizens among the day's candidates (drawCandidates). */
  | { kind: "behave"; day: number; candidates: Candidates }
  | { kind: "observe"; day: number }
  /** The day's observations as made (every shard's, then the invented): the shard takes those held against its citizens. */
  | { kind: "points"; day: number; obs: ObsColumns[] }
  /** Association charges to the shard's citizens, one batch per sending shard, in shard order (its own batch never left it: empty here). */
  | { kind: "charges"; day: number; inbox: ChargeColumns[] }
  /** Checkpoints: hand over the shard's state between days, or take this shard's part of a saved one. */
  | { kind: "save"; day: number }
  | { kind: "restore"; day: number; state: KernelState[] };

/** What a shard keeps from one day to the next besides the shared world: pending expiry. */
export interface KernelState {
  expiry: ExpiryState;
}

export interface ShardResult {
  /** Counts per cell and metric, in quanta (see metrics/daily.ts). */
  counts: ShardCounts;
  trail: TrailColumns;
  touched: Int32Array;
  /** Chunks of the day's behaviour draws, with their numbers. */
  drawn?: [chunk: number, candidates: Candidates][];
  /** Observations: those the shard made (observe), or those held against its citizens, sorted by target (points). */
  obs?: ObsColumns;
  /** Punished camera and online observations per region (targeting). */
  recorded?: Float64Array;
  /** Association charges made today, by the shard that owns the person charged (the batch to itself stays in the shard: empty here). */
  outbox?: ChargeColumns[];
  state?: KernelState;
}

/** How phases run kernels: on every shard, merging counts, trail rows and touched citizens into the run. */
export interface ShardRunner {
  readonly shards: Shard[];
  /** Worker threads besides the calling one (0: every shard runs on the calling thread). */
  readonly workers: number;
  /**
   * `meanwhile`: work of the calling thread's own, done after its shard's task while the workers
   * finish theirs; its answer is merged after every shard's, and returned last.
   */
  run(task: Task | ((shard: Shard) => Task), meanwhile?: () => ShardResult): ShardResult[];
  /**
   * Hand a task out without waiting for it: its answers are merged, in shard order, when the next
   * task is handed out (before that task's own). A worker then goes from this task to the next
   * one without waiting to be woken in between.
   */
  post(task: Task | ((shard: Shard) => Task)): void;
  /** Give each worker one task without waiting: work for their idle time while the calling thread runs its phases. */
  startInBackground(tasks: Task[]): void;
  /** The answers to the tasks started in the background, in worker order (waiting for them if need be). */
  takeBackground(): ShardResult[];
  saveState(day: number): KernelState[];
  restoreState(day: number, state: KernelState[]): void;
}

/** A shard's kernels over its core; returns the function that runs one task. */
export function shardKernels(core: Core, shard: Shard, shards: Shard[]): (task: Task) => ShardResult {
  const behave = behaviourKernel(core);
  const observation = observationKernel(core);
  const scoring = scoringKernel(core, shard, shards);
  return (task) => {
    core.day = task.day;
    core.touched.length = 0;
    const out: Partial<ShardResult> = {};
    switch (task.kind) {
      case "draw":
        out.drawn = drawClaimed(core, task.day, task.claim);
        break;
      case "behave":
        behave(task.day, task.candidates);
        break;
      case "observe":
        observation.day(task.day);
        out.obs = core.obs.columns();
        out.recorded = observation.recorded.slice();
        observation.recorded.fill(0);
        break;
      case "points": {
        const { held, outbox } = scoring.points(task.obs);
        out.obs = held;
        out.outbox = outbox;
        break;
      }
      case "charges":
        scoring.charges(task.inbox);
        break;
      case "save":
        out.state = { expiry: scoring.saveExpiry() };
        break;
      case "restore":
        // Each shard's share of a state saved with any number of shards: each citizen's entries
        // keep their order, which is all the score updates depend on.
        scoring.restoreExpiry(task.state.map((st) => st.expiry), (i) => i >= shard.lo && i < shard.hi);
        break;
      default:
        throw new Error(`no such shard task: ${JSON.stringify((task as { kind: unknown }).kind)}`);
    }
    return answer(core, out);
  };
}
