// A simulation: builds the world and the regime, starts the shards, and hands the phases to the
// engine's day loop (putting a timeline's changes in force on their days, and snapshotting the
// metric stores after each day); then the summary and the tables. Writers live elsewhere.
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import type { Scenario } from "../scenario/schema.js";
import { parseScenario } from "../scenario/load.js";
import type { RunResult, SimulateOptions, Progress } from "./result.js";
import { stateBytesPerCitizen } from "./world.js";
import { checkpointer, identityOf, restorePhases, savePhases } from "../engine/checkpoint.js";
import { changeDays, cutToDays, scenarioOn } from "../scenario/timeline.js";
import { runDays } from "../engine/day-loop.js";
import { createWorld } from "./population.js";
import { createSim, putInForce, type Phase, type Sim } from "./context.js";
import { ShardRunner } from "./kernels.js";
import { startShards } from "./shard.js";
import { dayPhases, declareMetrics } from "./regime.js";
import { runState } from "./checkpoint-state.js";
import { summarise } from "../metrics/summary.js";
import { buildTables } from "../metrics/tables.js";

/**
 * Put `inForce` in force: every phase and shard part is built again from it and takes over the
 * state its predecessor carried, exactly as a run resumed from a checkpoint does. `phases` is
 * replaced in place (the day loop and the checkpoints hold it); returns the new regime's handles.
 */
function rebuild(sim: Sim, shards: ShardRunner, phases: Phase[], inForce: Scenario): ReturnType<typeof dayPhases> {
  const saved = savePhases(phases);
  putInForce(sim, inForce);
  sim.listeners.length = 0;
  const next = dayPhases(sim, shards);
  restorePhases(next.phases, saved);
  phases.splice(0, phases.length, ...next.phases);
  shards.rebuild(sim.day, { scenario: inForce, listBelow: sim.listBelow, listAtLeast: sim.listAtLeast });
  return next;
}

/** Apply the run's overrides and validate again, so the recorded scenario is the one that ran. */
export function resolveScenario(scenario: Scenario, options: Pick<SimulateOptions, "population" | "days">): Scenario {
  const copy = structuredClone(scenario);
  if (options.population !== undefined) copy.population.size = options.population;
  if (options.days !== undefined) {
    copy.days = options.days;
    cutToDays(copy, options.days);
  }
  return parseScenario(copy, "scenario (with run options)");
}

/** Below this many citizens per thread, starting a worker costs more than it saves. */
const CITIZENS_PER_THREAD = 250_000;

/** Every core, but no more threads than the population keeps busy. */
export function defaultThreads(population: number): number {
  return Math.max(1, Math.min(availableParallelism(), Math.floor(population / CITIZENS_PER_THREAD)));
}

export function simulate(scenario: Scenario, options: SimulateOptions): RunResult {
  const t0 = performance.now();
  const s = resolveScenario(scenario, options);
  const seed = options.seed >>> 0;
  const elapsed = () => (performance.now() - t0) / 1000;
  const report = (phase: Progress["phase"], day: number, date: string) =>
    options.onProgress?.({ phase, day, days: s.days, date, elapsedSeconds: elapsed() });

  report("population", 0, s.startDate);
  const threads = options.threads ?? defaultThreads(s.population.size);
  const sim = createSim(createWorld(s, seed, threads));
  const shards = new ShardRunner(sim, threads);
  declareMetrics(sim);
  let regime = dayPhases(sim, shards);
  const phases = regime.phases;
  sim.metrics.allocate();
  sim.global.allocate();
  sim.listDaily.allocate();

  const tSim = performance.now();
  let observations = 0;
  let firstDay = 0;
  let phaseSeconds: Record<string, number> = {};
  startShards(sim, shards);
  try {
    const cp = checkpointer(identityOf(s, seed), runState(sim, phases, shards), options);
    firstDay = cp.firstDay;
    const changes = new Set(changeDays(s));
    phaseSeconds = runDays(sim, phases, firstDay, s.days, {
      startDay(day) {
        sim.day = day;
        // The timeline's changes take effect before the day's first phase (a resumed run first
        // puts in force the scenario of the day it resumes with).
        if (changes.has(day) || (day === firstDay && day > 0)) {
          const inForce = scenarioOn(s, day);
          if (inForce !== sim.s) regime = rebuild(sim, shards, phases, inForce);
        }
      },
      endDay(day) {
        observations += sim.obs.length;
        sim.metrics.snapshot(day);
        sim.global.snapshot(day);
        sim.listDaily.snapshot(day);
        report("simulate", day + 1, sim.dates[day]);
        cp.afterDay(day + 1);
      },
    });
  } finally {
    shards.close();
  }
  const tTables = performance.now();
  const simulateSeconds = (tTables - tSim) / 1000;

  // Tables and summary describe the run as given: the base scenario, its timeline included.
  putInForce(sim, s);
  const { lists, appeals, firms, collect } = regime;
  report("collect", s.days, sim.dates[s.days - 1]);
  const summary = summarise({
    s, seed, metrics: sim.metrics, listDaily: sim.listDaily,
    lists: lists.lists.states.map((L) => ({ id: L.rule.id, kind: L.rule.kind, everListed: L.ever.size })),
    appealsQueued: appeals.queued(),
    finalScores: sim.c.score,
    firmScores: firms.firms.score,
    firmGrade: firms.firms.gradeOf,
    dates: sim.dates,
  });
  const tables = buildTables({
    sim, summary, listLog: lists.lists.log, listStates: lists.lists.states, listsOf: lists.lists.listsOf, appealLog: appeals.log, firmLog: firms.firms.log, distribution: collect.distribution,
  });
  return {
    scenario: s,
    seed,
    tables,
    summary,
    stats: {
      wallSeconds: elapsed(),
      buildSeconds: (tSim - t0) / 1000,
      simulateSeconds,
      tablesSeconds: (performance.now() - tTables) / 1000,
      agentDaysPerSecond: (s.population.size * (s.days - firstDay)) / simulateSeconds,
      eventsPerSecond: observations / simulateSeconds,
      stateBytesPerCitizen: stateBytesPerCitizen(sim),
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      threads: shards.shards.length,
      phaseSeconds,
      workerWaitSeconds: shards.pool.waitedMs / 1000,
    },
  };
}
