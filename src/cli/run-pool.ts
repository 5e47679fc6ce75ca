// Many small simulations at once (calibration points, replicates of a comparison): each in its
// own worker thread, at most `workers` at a time, results in the order asked.
import { availableParallelism } from "node:os";
import type { Summary } from "../model/result.js";
import type { Scenario } from "../scenario/schema.js";
import { simulateInWorker } from "../run/sim-worker.js";

export interface RunJob {
  scenario: Scenario;
  seed: number;
  population?: number;
  days?: number;
}

export const defaultWorkers = (): number => Math.max(1, availableParallelism());

/** A limiter: run(job) waits for a free slot, simulates in a worker and resolves with the summary. */
export function summaryPool(workers = defaultWorkers()): (job: RunJob) => Promise<Summary> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (job) => {
    if (active >= workers) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      const { result } = simulateInWorker(job.scenario, { seed: job.seed, population: job.population, days: job.days, threads: 1 }, () => undefined);
      return (await result).summary;
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
