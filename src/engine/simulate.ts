// The day loop. It only steps: each phase (a mechanism) runs once per day in a fixed order,
// then the metric stores snapshot their stocks. Reporters and writers live elsewhere.
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import type { Scenario } from "../scenario/schema.js";
import { parseScenario } from "../scenario/load.js";
import type { RunResult, SimulateOptions, Progress } from "./result.js";
import { stateBytesPerCitizen } from "./world.js";
import { ShardPool } from "./shard-pool.js";
import { checkpointer } from "./checkpoint.js";
import { createWorld } from "../model/population.js";
import { createSim, type Phase } from "../model/context.js";
import { watchPhase, observationPhase } from "../model/observation.js";
import { behaviourPhase } from "../model/behaviour.js";
import { scoringPhase } from "../model/scoring.js";
import { listsPhase } from "../model/lists.js";
import { appealsPhase } from "../model/appeals.js";
import { consequencesPhase } from "../model/consequences.js";
import { shamingPhase } from "../model/shaming.js";
import { firmsPhase } from "../model/firms.js";
import { collectPhase } from "../model/collect.js";
import { summarise } from "../metrics/summary.js";
import { buildTables } from "../metrics/tables.js";

/** Apply the run's overrides and validate again, so the recorded scenario is the one that ran. */
export function resolveScenario(scenario: Scenario, options: Pick<SimulateOptions, "population" | "days">): Scenario {
  const copy = structuredClone(scenario);
  if (options.population !== undefined) copy.population.size = options.population;
  if (options.days !== undefined) copy.days = options.days;
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
  const shards = new ShardPool(sim, threads);
  const watch = watchPhase(sim);
  const lists = listsPhase(sim);
  const appeals = appealsPhase(sim, lists.lists);
  const consequences = consequencesPhase(sim);
  const firms = firmsPhase(sim, lists.lists);
  const collect = collectPhase(sim, consequences);
  const behaviour = behaviourPhase(sim, shards);
  const observation = observationPhase(sim, watch, shards);
  const scoring = scoringPhase(sim, shards, observation);
  const phases: Phase[] = [
    watch, behaviour, observation, scoring, lists, appeals,
    consequences, shamingPhase(sim, consequences.blacklisted, collect.tieDropped), firms, collect,
  ];
  sim.metrics.allocate();
  sim.global.allocate();

  const tSim = performance.now();
  let observations = 0;
  const phaseMs = new Float64Array(phases.length);
  let firstDay = 0;
  shards.start();
  try {
    const cp = checkpointer(s, seed, sim, phases, options);
    firstDay = cp.firstDay;
    for (let day = cp.firstDay; day < s.days; day++) {
      sim.day = day;
      for (let k = 0; k < phases.length; k++) {
        const t = performance.now();
        phases[k].day(sim);
        // Scoring is the day's last use of the workers: they draw tomorrow's behaviour while
        // this thread runs the phases over the listed.
        if (phases[k] === scoring) behaviour.drawAhead(day + 1);
        phaseMs[k] += performance.now() - t;
      }
      observations += sim.obs.length;
      sim.metrics.snapshot(day);
      sim.global.snapshot(day);
      report("simulate", day + 1, sim.dates[day]);
      cp.afterDay(day + 1);
    }
  } finally {
    shards.close();
  }
  const tTables = performance.now();
  const simulateSeconds = (tTables - tSim) / 1000;

  report("collect", s.days, sim.dates[s.days - 1]);
  const summary = summarise({
    s, seed, metrics: sim.metrics,
    lists: lists.lists.states.map((L) => ({ id: L.rule.id, kind: L.rule.kind, entries: L.entries, everListed: L.ever.size, exits: L.exits })),
    appealsQueued: appeals.queued(),
    finalScores: sim.c.score,
    firmScores: firms.firms.score,
    firmGrade: firms.firms.gradeOf,
    dates: sim.dates,
  });
  const tables = buildTables({
    sim, summary, listLog: lists.lists.log, listStates: lists.lists.states, appealLog: appeals.log, firmLog: firms.firms.log, distribution: collect.distribution,
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
      phaseSeconds: Object.fromEntries(phases.map((p, k) => [p.name, phaseMs[k] / 1000])),
      workerWaitSeconds: shards.waitedMs / 1000,
    },
  };
}
