// Running point-replicates on this machine: each a run kept in memory (run/run.ts: the memory
// check, then its own worker thread), at most `workers` at a time. The queue worker (queue.ts) runs its jobs
// through the same runJob, so a result does not depend on where it was computed.
import { runInMemory } from "../run/run.js";
import type { Scenario } from "../scenario/schema.js";
import type { Task } from "./points.js";
import type { TaskResult } from "./store.js";

/** Everything a simulation needs: plain data, so it can travel through Redis. */
export interface Job {
  task: Task;
  scenario: Scenario;
  population: number;
  days: number;
  metrics: string[];
}

/** The kept metrics of a summary; a metric that is not a finite number is stored as null. */
export function pickMetrics(all: Record<string, number | null>, keys: string[]): Record<string, number | null> {
  return Object.fromEntries(keys.map((k) => { const v = all[k]; return [k, typeof v === "number" && Number.isFinite(v) ? v : null]; }));
}

export interface RunningJob {
  result: Promise<TaskResult>;
  stop: () => Promise<void>;
}

/** Simulates one job in a worker thread; only summary.metrics is kept (the tables are dropped). */
export function runJob(job: Job, by: string, onFraction?: (f: number) => void): RunningJob {
  const started = performance.now();
  const sim = runInMemory(job.scenario, {
    seed: job.task.seed, population: job.population, days: job.days, threads: 1,
    onProgress: (p) => { if (onFraction && p.phase === "simulate" && p.days > 0) onFraction(p.day / p.days); },
  });
  const result = sim.result.then((r): TaskResult => ({
    id: job.task.id,
    point: job.task.point,
    replicate: job.task.replicate,
    seed: job.task.seed,
    metrics: pickMetrics(r.summary.metrics, job.metrics),
    seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
    by,
  }));
  return { result, stop: sim.stop };
}

export interface PoolEvents {
  onDone: (r: TaskResult) => void;
  onFailed: (job: Job, error: Error) => void;
  /** Fraction of a running job simulated so far. */
  onFraction?: (job: Job, f: number) => void;
}

export interface Pool {
  /** Resolves when every job has finished or failed (or the pool was stopped). */
  done: Promise<void>;
  /** Stops the running simulations and starts no more. */
  stop: () => Promise<void>;
}

/** Runs `jobs` with at most `workers` simulations at once. A failed job is reported, not retried: a run is deterministic. */
export function runPool(jobs: Job[], workers: number, events: PoolEvents): Pool {
  let next = 0;
  let stopped = false;
  const running = new Set<RunningJob>();
  const lane = async (): Promise<void> => {
    while (!stopped && next < jobs.length) {
      const job = jobs[next++];
      const run = runJob(job, "local", (f) => events.onFraction?.(job, f));
      running.add(run);
      try {
        const r = await run.result;
        if (!stopped) events.onDone(r);
      } catch (e) {
        if (!stopped) events.onFailed(job, e instanceof Error ? e : new Error(String(e)));
      } finally {
        running.delete(run);
      }
    }
  };
  // A stopped simulation never settles (sim-worker.ts), so stopping also ends `done` itself.
  let onStopped = () => {};
  const stoppedNow = new Promise<void>((r) => (onStopped = r));
  const lanes = Array.from({ length: Math.max(1, Math.min(workers, jobs.length)) }, lane);
  const done = Promise.race([Promise.all(lanes).then(() => undefined), stoppedNow]);
  return {
    done,
    stop: async () => {
      stopped = true;
      onStopped();
      await Promise.all([...running].map((r) => r.stop().catch(() => undefined)));
    },
  };
}
