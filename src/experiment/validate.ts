// What crosses the queue is checked on arrival, both ways. A worker takes a job only if it is
// a point of a valid experiment that fits this machine (the scenario schema and the memory
// limits of `credence run`); the coordinator keeps a worker's result only if it is the result
// of the job it was given: the same point, replicate and seed, every metric the point asked for
// and no other, each a finite number in the metric's possible range (null only where a run can
// leave a metric undefined). The same check guards results.jsonl when a sweep resumes.
import { z } from "zod";
import { runLimitProblems, type Machine } from "../scenario/limits.js";
import { formatProblem, parseScenario, ScenarioError } from "../scenario/load.js";
import type { Scenario } from "../scenario/schema.js";
import { mayBeUndefined, metricKeys } from "../metrics/summary.js";
import type { Job } from "./pool.js";
import type { Task } from "./points.js";
import { ExperimentSchema } from "./spec.js";
import type { TaskResult } from "./store.js";

/** A refused job or result: the message names the problem, in a line or two. */
export class Refused extends Error {
  constructor(message: string) {
    super(message.length > 1000 ? message.slice(0, 997) + "..." : message);
    this.name = "Refused";
  }
}

const TaskSchema = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{20}$/, "a task id (20 hex digits)"),
  point: z.number().int().min(0).max(100_000),
  replicate: z.number().int().min(0).max(10_000),
  seed: z.number().int().min(0).max(4_294_967_295),
});

/** A job as it arrives, its scenario not yet unpacked; population and days within the experiment file's bounds. */
export const WireJobSchema = z.strictObject({
  task: TaskSchema,
  scenario: z.string(),
  population: ExperimentSchema.shape.population.unwrap(),
  days: ExperimentSchema.shape.days.unwrap(),
  metrics: ExperimentSchema.shape.metrics,
});
export type WireJob = z.output<typeof WireJobSchema>;

const problemsText = (e: z.ZodError) => e.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");

/** The wire job's fields, or Refused naming what is wrong. */
export function checkWireJob(data: unknown): WireJob {
  const parsed = WireJobSchema.safeParse(data);
  if (!parsed.success) throw new Refused(`job refused: not a point of an experiment (${problemsText(parsed.error)})`);
  return parsed.data;
}

/**
 * A job whose scenario is unpacked: valid against the scenario schema, asking only for metrics
 * such a run has, and fitting `machine` as `credence run` requires.
 */
export function checkJob(wire: WireJob, scenarioData: unknown, machine?: Machine): Job {
  let scenario: Scenario;
  try {
    scenario = parseScenario(scenarioData, "job scenario");
  } catch (e) {
    if (!(e instanceof ScenarioError)) throw e;
    throw new Refused(`job refused: its scenario is not valid:\n${e.problems.slice(0, 5).map(formatProblem).join("\n")}`);
  }
  const known = new Set(metricKeys(scenario));
  const unknown = wire.metrics.filter((m) => !known.has(m));
  if (unknown.length) throw new Refused(`job refused: ${unknown.slice(0, 5).map((m) => JSON.stringify(m)).join(", ")} not a metric of its scenario`);
  const tooBig = runLimitProblems(scenario, { population: wire.population, days: wire.days, where: { population: "population", days: "days" } }, machine);
  if (tooBig.length) throw new Refused(`job refused: too large for this machine:\n${tooBig.map(formatProblem).join("\n")}`);
  // The scenario runs as it came, as the coordinator's own runs do: parsing again may fill in
  // defaults the first parse left alone (zod does not parse a default value), and the results
  // must not depend on where a point ran.
  return { task: wire.task, scenario: scenarioData as Scenario, population: wire.population, days: wire.days, metrics: wire.metrics };
}

/**
 * The values a summary metric can take (see metrics/summary.ts): shares and rates of success
 * are in [0, 1]; counts per capita, days and income ratios are never negative; the mean score
 * stays on the scenario's scale; chilling (1 - speech / its baseline) is at most 1.
 */
export function metricRange(key: string, s: Scenario): [number, number] {
  const base = key.split(".")[0];
  if (base === "mean_score") return [s.scoring.min, s.scoring.max];
  if (base === "chilling") return [-Infinity, 1];
  if (/_share$|^isolation_of_listed$|^appeal_success_rate$/.test(base)) return [0, 1];
  return [0, Infinity];
}

/** A run leaves a metric undefined (stored as null) when its scenario lacks it, or when its denominator is empty. */
const mayBeNull = (key: string, s: Scenario) => mayBeUndefined(key) || !metricKeys(s).includes(key);

/** Tolerance for the rounding of sums of float32 values (shares and mean scores). */
const SLACK = 1e-9;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * The result a worker returned for `task`, rebuilt from the task and the checked fields, or
 * Refused naming the first problem. `metrics` are the keys the point asked for.
 */
export function checkResult(value: unknown, task: Task, metrics: string[], scenario: Scenario): TaskResult {
  if (!isObject(value)) throw new Refused("not a result object");
  for (const k of ["id", "point", "replicate", "seed"] as const) {
    if (value[k] !== task[k]) throw new Refused(`claims ${k} ${JSON.stringify(value[k])?.slice(0, 40)}, not the job's ${JSON.stringify(task[k])}`);
  }
  const got = value.metrics;
  if (!isObject(got)) throw new Refused("no metrics object");
  const expected = new Set(metrics);
  const extra = Object.keys(got).filter((k) => !expected.has(k));
  if (extra.length) throw new Refused(`unknown metric ${JSON.stringify(extra[0].slice(0, 80))} (the point asked for ${metrics.length})`);
  const kept: Record<string, number | null> = {};
  for (const key of metrics) {
    const v = got[key];
    if (v === null && mayBeNull(key, scenario)) kept[key] = null;
    else if (typeof v !== "number" || !Number.isFinite(v)) throw new Refused(`metric ${key}: ${v === undefined ? "missing" : `${JSON.stringify(v)?.slice(0, 40)} is not a finite number`}`);
    else {
      const [lo, hi] = metricRange(key, scenario);
      const slack = SLACK * Math.max(1, ...[lo, hi].filter(Number.isFinite).map(Math.abs));
      if (v < lo - slack || v > hi + slack) throw new Refused(`metric ${key}: ${v} is outside its possible range [${lo}, ${hi}]`);
      kept[key] = v;
    }
  }
  const { seconds, by } = value;
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) throw new Refused("seconds: not a duration");
  // `by` lands in the runs table and in messages: a short printable name.
  if (typeof by !== "string" || !/^[\x20-\x7e]{1,200}$/.test(by)) throw new Refused("by: not a worker name (1-200 printable characters)");
  return { id: task.id, point: task.point, replicate: task.replicate, seed: task.seed, metrics: kept, seconds, by };
}
