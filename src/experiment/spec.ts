// The experiment file: a base scenario, the parameters to vary, how to combine them (a grid
// or a Latin hypercube), replicates (seeds), population and days, and the metrics to keep.
// Validated with zod like scenarios, and with the same errors: field path, value found,
// what was expected (a ScenarioError whose source is the experiment file).
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { MAX_SCENARIO_BYTES, parseScenario, parseYamlData, readScenarioData, ScenarioError, zodProblems, type Problem } from "../scenario/load.js";
import { FileRefused, readUserText } from "../io/read-file.js";
import type { Scenario } from "../scenario/schema.js";
import { metricKeys } from "../metrics/summary.js";

/** One value a parameter takes: what a scenario field can hold (numbers, switches, choices). */
export type ParamValue = number | boolean | string;

const ParamValueSchema = z.union([z.number(), z.boolean(), z.string()]);

const ParameterSchema = z.union(
  [
    z.array(ParamValueSchema).min(1).max(100_000),
    z.strictObject({
      from: z.number(),
      to: z.number(),
      steps: z.number().int().min(2).max(100_000).optional().describe("Number of evenly spaced values, both ends included"),
      by: z.number().positive().optional().describe("Spacing between values, from `from` up to `to`"),
    }),
  ],
  { error: "a list of values, or a range {from, to, steps} or {from, to, by} ({from, to} alone in a Latin hypercube)" },
);

export const ExperimentSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, "a lower-case id such as `false-match-appeals`")
    .describe("Experiment id; the default folder is experiments/runs/<name>"),
  title: z.string().default(""),
  description: z.string().default(""),
  scenario: z.string().min(1).describe("Base scenario file, relative to the experiment file"),
  population: z.number().int().min(1).max(2_000_000_000).optional().describe("Citizens per run (default: the scenario's population.size)"),
  days: z.number().int().min(1).max(36_500).optional().describe("Days per run (default: the scenario's days)"),
  replicates: z.number().int().min(1).max(10_000).default(5).describe("Runs per point, with seeds seed, seed+1, ..."),
  seed: z.number().int().min(0).max(4_294_967_295).default(1).describe("Seed of replicate 0 (replicate r uses seed + r)"),
  parameters: z.record(z.string().min(1), ParameterSchema)
    .describe("Scenario field path (e.g. observation.cameras.falseMatchRate, lists.low-score.minDays) -> values"),
  design: z.union(
    [z.literal("grid"), z.strictObject({ latinHypercube: z.number().int().min(1).max(100_000) })],
    { error: 'grid, or {latinHypercube: N} for N points' },
  ).default("grid").describe("grid: every combination; {latinHypercube: N}: N points, one in each of N strata per parameter"),
  metrics: z.array(z.string().min(1)).min(1).max(200).describe("Keys of the run summary's metrics to keep"),
  labels: z.record(z.string(), z.string()).default({})
    .describe("Axis labels (with units) for parameters and metrics, used by `credence plot`"),
});

export type ExperimentInput = z.input<typeof ExperimentSchema>;

export type Parameter =
  | { path: string; kind: "values"; values: ParamValue[] }
  | { path: string; kind: "range"; from: number; to: number; steps?: number; by?: number };

export interface Experiment {
  /** The experiment file (absolute), or a label when parsed from data. */
  source: string;
  name: string;
  title: string;
  description: string;
  /** Base scenario file, absolute. */
  scenarioPath: string;
  /** The base scenario's raw data as written (points are set on it before validation). */
  baseData: Record<string, unknown>;
  baseScenario: Scenario;
  population: number;
  days: number;
  replicates: number;
  seed: number;
  parameters: Parameter[];
  design: { kind: "grid" } | { kind: "latin-hypercube"; points: number };
  metrics: string[];
  labels: Record<string, string>;
}

const show = (v: unknown) => JSON.stringify(v) ?? String(v);

/** Rules zod cannot express: ranges that make sense, known metrics, the design's needs. */
function crossProblems(x: z.output<typeof ExperimentSchema>, base: Scenario): Problem[] {
  const out: Problem[] = [];
  const lhs = x.design !== "grid";
  const entries = Object.entries(x.parameters);
  if (entries.length === 0) out.push({ path: "parameters", found: "{}", expected: "at least one parameter to vary" });
  for (const [path, p] of entries) {
    const at = `parameters.${path}`;
    if (Array.isArray(p)) {
      const seen = new Set<string>();
      p.forEach((v, i) => {
        if (seen.has(show(v))) out.push({ path: `${at}[${i}]`, found: show(v), expected: "a value not listed before for this parameter" });
        seen.add(show(v));
      });
      continue;
    }
    if (!(p.to > p.from)) out.push({ path: `${at}.to`, found: show(p.to), expected: `a value > from (${p.from})` });
    if (lhs) {
      if (p.steps !== undefined || p.by !== undefined) out.push({ path: at, found: show(p), expected: "{from, to} only: a Latin hypercube draws the values" });
    } else if ((p.steps === undefined) === (p.by === undefined)) {
      out.push({ path: at, found: show(p), expected: "exactly one of steps or by (a grid needs the values spelled out)" });
    } else if (p.by !== undefined && p.to > p.from && (p.to - p.from) / p.by > 100_000) {
      out.push({ path: `${at}.by`, found: show(p.by), expected: `a spacing giving at most 100,000 values from ${p.from} to ${p.to}` });
    }
  }
  const keys = new Set(metricKeys(base));
  x.metrics.forEach((m, i) => {
    if (!keys.has(m)) {
      const near = [...keys].filter((k) => k.split(".")[0] === m.split(".")[0]).slice(0, 4);
      out.push({ path: `metrics[${i}]`, found: show(m), expected: `a summary metric key of the base scenario such as ${(near.length ? near : ["listed_share.<list id>", "wrongful_share.<list id>", "isolation_of_listed"]).join(", ")}` });
    }
  });
  return out;
}

/**
 * Validate experiment data (already parsed from YAML). `dir` is where relative scenario paths
 * start. Throws a ScenarioError naming the experiment file; a base scenario that does not load
 * throws its own ScenarioError.
 */
export function parseExperiment(data: unknown, source: string, dir: string): Experiment {
  const parsed = ExperimentSchema.safeParse(data);
  if (!parsed.success) throw new ScenarioError(source, zodProblems(parsed.error, data));
  const x = parsed.data;
  const scenarioPath = resolve(dir, x.scenario);
  let baseData: unknown;
  try {
    baseData = readScenarioData(scenarioPath); // a file that is not a scenario is named, never shown
  } catch (e) {
    throw new ScenarioError(source, [{ path: "scenario", found: `${show(x.scenario)} (${(e as Error).message} at ${scenarioPath})`, expected: "a scenario file, relative to the experiment file" }]);
  }
  const baseScenario = parseScenario(baseData, scenarioPath);
  const problems = crossProblems(x, baseScenario);
  if (problems.length) throw new ScenarioError(source, problems);
  return {
    source,
    name: x.name,
    title: x.title,
    description: x.description,
    scenarioPath,
    baseData: baseData as Record<string, unknown>,
    baseScenario,
    population: x.population ?? baseScenario.population.size,
    days: x.days ?? baseScenario.days,
    replicates: x.replicates,
    seed: x.seed,
    parameters: Object.entries(x.parameters).map(([path, p]) =>
      Array.isArray(p) ? { path, kind: "values", values: p } : { path, kind: "range", from: p.from, to: p.to, steps: p.steps, by: p.by }),
    design: x.design === "grid" ? { kind: "grid" } : { kind: "latin-hypercube", points: x.design.latinHypercube },
    metrics: x.metrics,
    labels: x.labels,
  };
}

export function parseExperimentText(text: string, source: string, dir: string): Experiment {
  return parseExperiment(parseYamlData(text, source), source, dir);
}

export function loadExperiment(file: string): Experiment {
  const path = resolve(file);
  let text: string;
  try {
    text = readUserText(path, { maxBytes: MAX_SCENARIO_BYTES });
  } catch (e) {
    if (e instanceof FileRefused) throw new ScenarioError(file, [{ path: "", found: e.message, expected: "a YAML experiment file" }]);
    throw e;
  }
  return parseExperimentText(text, file, dirname(path));
}
