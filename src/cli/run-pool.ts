// Many small simulations at once (calibration points, replicates of a comparison): each a run
// kept in memory (run/run.ts: the memory check, then a worker thread), at most `workers` at a
// time, results in the order asked.
import { availableParallelism } from "node:os";
import type { RunResult, Summary } from "../model/result.js";
import type { Scenario } from "../scenario/schema.js";
import { runInMemory } from "../run/run.js";

export interface RunJob {
  scenario: Scenario;
  seed: number;
  population?: number;
  days?: number;
}

export const defaultWorkers = (): number => Math.max(1, availableParallelism());

/** A limiter: run(job) waits for a free slot, simulates in a worker and resolves with the whole result (tables too). */
export function resultPool(workers = defaultWorkers()): (job: RunJob) => Promise<RunResult> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (job) => {
    if (active >= workers) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await runInMemory(job.scenario, { seed: job.seed, population: job.population, days: job.days, threads: 1 }).result;
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** The same limiter, resolving with the summary only. */
export function summaryPool(workers = defaultWorkers()): (job: RunJob) => Promise<Summary> {
  const run = resultPool(workers);
  return async (job) => (await run(job)).summary;
}
