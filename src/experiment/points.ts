// From an experiment to the work: the points (one value per parameter), each point's
// scenario (the base scenario's data with the values set, validated like any scenario), and
// the tasks (point x replicate) with their seeds and stable ids.
import { createHash } from "node:crypto";
import { hashInts, nameId, Rng } from "../engine/random.js";
import { canonicalJson } from "../io/run-folder.js";
import { parseScenario, pathString, ScenarioError, type Problem } from "../scenario/load.js";
import type { Scenario } from "../scenario/schema.js";
import { setPath } from "../scenario/paths.js";
export { setPath };
import type { Experiment, Parameter, ParamValue } from "./spec.js";

export interface Point {
  index: number;
  /** Parameter path -> value, in the experiment file's order. */
  values: Record<string, ParamValue>;
}

/** One simulation: a point and a replicate. */
export interface Task {
  /** Stable id from what determines the result (point values, scenario, population, days, seed). */
  id: string;
  point: number;
  replicate: number;
  seed: number;
}

export interface Plan {
  experiment: Experiment;
  points: Point[];
  /** The validated scenario of each point (same index as points). */
  scenarios: Scenario[];
  tasks: Task[];
}

/** Numbers as a person would write them: 0.30000000000000004 -> 0.3. */
const tidy = (v: number): number => Number(v.toPrecision(12));

/** The values of a parameter on a grid. */
export function gridValues(p: Parameter): ParamValue[] {
  if (p.kind === "values") return p.values;
  if (p.steps !== undefined) return Array.from({ length: p.steps }, (_, i) => tidy(p.from + ((p.to - p.from) * i) / (p.steps! - 1)));
  const out: number[] = [];
  // The tolerance keeps `to` when rounding leaves it a hair beyond the last step.
  for (let i = 0; p.from + i * p.by! <= p.to + 1e-9 * p.by!; i++) out.push(tidy(p.from + i * p.by!));
  return out;
}

/**
 * A Latin hypercube of n points in `dims` dimensions: for each dimension, the n points fall
 * one in each of the n equal strata of (0, 1), in a random order; within its stratum a point
 * is uniform. Returns n rows of `dims` positions, each strictly inside (0, 1).
 */
export function latinHypercube(n: number, dims: number, rng: Rng): number[][] {
  const rows = Array.from({ length: n }, () => new Array<number>(dims).fill(0));
  for (let d = 0; d < dims; d++) {
    const perm = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    // (u32 + 0.5) / 2^32 is never 0 or 1, so no point sits on a stratum boundary.
    for (let k = 0; k < n; k++) rows[k][d] = (perm[k] + (rng.u32() + 0.5) / 4294967296) / n;
  }
  return rows;
}

/** The value at position `pos` in (0, 1) of a parameter's range, or of its list (equal shares). */
function valueAt(p: Parameter, pos: number): ParamValue {
  if (p.kind === "values") return p.values[Math.min(p.values.length - 1, Math.floor(pos * p.values.length))];
  return p.from + pos * (p.to - p.from);
}

export function generatePoints(x: Experiment): Point[] {
  const params = x.parameters;
  if (x.design.kind === "latin-hypercube") {
    // A named stream of the experiment's seed: the design is reproducible and independent of the runs' draws.
    const rng = new Rng(hashInts(x.seed, nameId("experiment.latin-hypercube")));
    return latinHypercube(x.design.points, params.length, rng).map((row, index) => ({
      index,
      values: Object.fromEntries(params.map((p, d) => [p.path, valueAt(p, row[d])])),
    }));
  }
  // Every combination; the first parameter changes slowest.
  let combos: ParamValue[][] = [[]];
  for (const p of params) combos = combos.flatMap((c) => gridValues(p).map((v) => [...c, v]));
  return combos.map((c, index) => ({ index, values: Object.fromEntries(params.map((p, d) => [p.path, c[d]])) }));
}

/** Number of points a grid would have, without building it. */
export const gridSize = (params: Parameter[]): number => params.reduce((n, p) => n * gridValues(p).length, 1);



const describePoint = (p: Point) => Object.entries(p.values).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ");

/**
 * Points, their scenarios and tasks; every point's scenario validated before anything runs.
 * Throws a ScenarioError naming the experiment file: a parameter path that is not a scenario
 * field, or a value the field does not accept, is named by `parameters.<path>`.
 */
export function plan(x: Experiment): Plan {
  if (x.design.kind === "grid") {
    const n = gridSize(x.parameters);
    if (n > 100_000) throw new ScenarioError(x.source, [{ path: "parameters", found: `a grid of ${n} points`, expected: "at most 100,000 points (use a Latin hypercube)" }]);
  }
  const points = generatePoints(x);
  const problems = new Map<string, Problem>();
  const add = (p: Problem) => problems.has(p.path + p.expected) || problems.set(p.path + p.expected, p);
  const scenarios: Scenario[] = [];
  for (const point of points) {
    const data = structuredClone(x.baseData);
    const at = new Map<string, string>(); // resolved path (as zod names it) -> parameter path
    for (const [path, value] of Object.entries(point.values)) {
      try {
        at.set(pathString(setPath(data, path, value)), path);
      } catch (e) {
        add({ path: `parameters.${path}`, found: JSON.stringify(value), expected: `a scenario field path: ${(e as Error).message}` });
      }
    }
    if (problems.size) continue;
    try {
      scenarios.push(parseScenario(data, x.scenarioPath));
    } catch (e) {
      if (!(e instanceof ScenarioError)) throw e;
      for (const q of e.problems) {
        const param = [...at.entries()].find(([resolved]) => q.path === resolved || q.path.startsWith(resolved + ".") || q.path.startsWith(resolved + "["));
        if (param && /no such key/.test(q.expected)) add({ path: `parameters.${param[1]}`, found: q.found, expected: `a field of the scenario (${q.path} is not one: ${q.expected})` });
        else if (param) add({ path: `parameters.${param[1]}`, found: q.found, expected: `${q.expected} (scenario field ${q.path})` });
        else add({ path: `parameters (point ${point.index}: ${describePoint(point)})`, found: q.found, expected: `${q.expected} (scenario field ${q.path})` });
      }
    }
    if (problems.size >= 20) break;
  }
  if (problems.size) throw new ScenarioError(x.source, [...problems.values()]);

  const tasks: Task[] = [];
  points.forEach((point, i) => {
    const scenarioDigest = createHash("sha256").update(canonicalJson(scenarios[i])).digest("hex");
    for (let r = 0; r < x.replicates; r++) {
      const seed = (x.seed + r) >>> 0;
      const id = createHash("sha256")
        .update(canonicalJson({ values: point.values, scenario: scenarioDigest, population: x.population, days: x.days, seed }))
        .digest("hex")
        .slice(0, 20);
      tasks.push({ id, point: i, replicate: r, seed });
    }
  });
  return { experiment: x, points, scenarios, tasks };
}
