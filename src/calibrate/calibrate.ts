// Calibration: fit the parameters a scenario marks under `calibration:` to its targets.
// The objective is the sum over targets of the squared deviation in units of the target's
// tolerance (|z| <= 1 passes), on the mean of the same seeds every evaluation. See
// nelder-mead.ts for why that optimiser. After the fit, the range of each parameter where every
// target still holds (see profileRanges for how and what it means), on the same seeds.
import { targetKey } from "../metrics/summary.js";
import type { Scenario } from "../scenario/schema.js";
import type { Summary, TargetResult } from "../model/result.js";
import { parseScenario } from "../scenario/load.js";
import { numberAt, setPath } from "../scenario/paths.js";
import { nelderMead } from "./nelder-mead.js";

/** Runs one scenario for one seed; the caller decides where (a worker, this thread). */
export type Runner = (s: Scenario, seed: number, population: number, days: number) => Promise<Summary>;

export interface Evaluation {
  evaluation: number;
  /** The fit's search, or the range step after it. */
  stage: "fit" | "range";
  values: number[];
  loss: number;
  targets: TargetResult[];
}

/** One side of a parameter's range, from the best fit towards one of its calibration bounds. */
export interface RangeEdge {
  /** The farthest value tried on this side where every target holds (the best fit's value if none). */
  value: number;
  /**
   * What ends the range here: `bound`, every target still holds at the calibration bound (the
   * bound, not the data, limits it); `targets`, the targets in `failing` fail at `beyond`, the
   * nearest value tried past `value`; `untried`, no evaluation was left for this side.
   */
  limit: "bound" | "targets" | "untried";
  beyond?: number;
  failing?: string[];
}

export interface RangeResult {
  /** Per fitted parameter, in order; empty when the best fit misses a target (no range keeps them all). */
  ranges: { low: RangeEdge; high: RangeEdge }[];
  /** Targets the best fit misses. */
  missed: string[];
  /** Evaluations simulated for the ranges (each runs every seed), and the most allowed. */
  evaluations: number;
  budget: number;
  seconds: number;
}

export interface CalibrationResult {
  parameters: { path: string; min: number; max: number; before: number; after: number }[];
  before: Evaluation;
  after: Evaluation;
  /** Evaluations of the fit (the range step's are counted in `range`). */
  evaluations: number;
  seconds: number;
  range: RangeResult;
}

/** The default budget of the range step: the bound and four halvings on each side. */
export const defaultRangeEvaluations = (parameters: number): number => 10 * parameters;

/** Targets judged on the mean over seeds of each metric. */
export function judgeTargets(s: Scenario, summaries: Summary[]): { targets: TargetResult[]; loss: number } {
  let loss = 0;
  const targets = s.targets.map((t) => {
    const vals = summaries.map((x) => x.metrics[targetKey(t)]).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    const simulated = vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
    const z = simulated === null ? 10 : (simulated - t.value) / (t.tolerance * Math.abs(t.value) || 1e-12);
    loss += z * z;
    return { metric: targetKey(t), target: t.value, tolerance: t.tolerance, simulated, pass: Math.abs(z) <= 1, ...(t.source ? { source: t.source } : {}) };
  });
  return { targets, loss };
}

/** The scenario with the calibrated parameters set to `values` (validated again). */
export function withValues(s: Scenario, values: number[]): Scenario {
  const copy = structuredClone(s);
  s.calibration!.parameters.forEach((p, k) => setPath(copy, p.path, values[k]));
  copy.metrics.trailSample = 0; // only the summary counts while fitting
  return parseScenario(copy, `${s.name} (calibration point)`);
}

/** Round to 4 significant digits: the fitted values go into a file people read. */
export const roundValue = (v: number): number => (v === 0 ? 0 : Number(v.toPrecision(4)));

/**
 * The range of each parameter where every target holds: a one-dimensional profile from the best
 * fit, each parameter moved down and up with the others held at their best values. On each side
 * the calibration bound is tried first (if every target holds there, the bound limits the range);
 * otherwise the edge is bisected between the last value where all hold and the nearest where one
 * fails, until that side's share of `budget` is spent or rounding cannot split the interval.
 *
 * Why a profile and not a rejection step (sampling around the optimum, keeping the points where
 * all hold): an evaluation costs seconds, and bisection places each edge to 1/16 of the distance
 * to the bound in 5 evaluations, 10 per parameter, the same on every run; rejection sampling
 * among 7 parameters reaches the edges of the acceptable set only slowly, needs hundreds of
 * points for a range as sharp, and depends on the box it samples. The price: with the others
 * fixed, the range is narrower than the set of all acceptable fits wherever parameters trade off
 * (more listed people with fewer attempts each block as many flights), so it is a lower bound on
 * how far each parameter may go, not a joint region. Bisection also assumes the targets hold on
 * an interval; at a small population the pass/fail line can be ragged, and it finds a crossing.
 */
async function profileRanges(
  params: { min: number; max: number }[],
  best: Evaluation,
  evaluate: (values: number[]) => Promise<Evaluation>,
  budget: number,
): Promise<RangeResult["ranges"]> {
  const holds = (e: Evaluation) => e.targets.every((t) => t.pass);
  const side = async (k: number, bound: number, allowed: number): Promise<RangeEdge> => {
    const at = (v: number) => evaluate(best.values.map((b, i) => (i === k ? roundValue(v) : b)));
    let inside = best.values[k];
    if (inside === bound) return { value: bound, limit: "bound" };
    if (allowed === 0) return { value: inside, limit: "untried" };
    let outside = await at(bound);
    if (holds(outside)) return { value: outside.values[k], limit: "bound" };
    for (let step = 1; step < allowed; step++) {
      const e = await at((inside + outside.values[k]) / 2);
      if (e.values[k] === inside || e.values[k] === outside.values[k]) break; // rounding cannot split it further
      if (holds(e)) inside = e.values[k];
      else outside = e;
    }
    return { value: inside, limit: "targets", beyond: outside.values[k], failing: outside.targets.filter((t) => !t.pass).map((t) => t.metric) };
  };
  // The budget split evenly over the 2 sides of each parameter (the first sides take the remainder);
  // the sides are independent, so they run at once and a pool of workers stays busy.
  const sides = 2 * params.length;
  const allowed = (j: number) => Math.floor(budget / sides) + (j < budget % sides ? 1 : 0);
  return Promise.all(params.map(async (p, k) => {
    const [low, high] = await Promise.all([side(k, p.min, allowed(2 * k)), side(k, p.max, allowed(2 * k + 1))]);
    return { low, high };
  }));
}

export async function calibrate(s: Scenario, run: Runner, onEvaluation?: (e: Evaluation) => void): Promise<CalibrationResult> {
  const cal = s.calibration;
  if (!cal) throw new Error(`${s.name} has no calibration section: nothing to fit`);
  const t0 = performance.now();
  const params = cal.parameters.map((p) => ({ ...p, before: numberAt(s, p.path).value }));
  // The starting point is a candidate best fit: outside the bounds it would be reported as one,
  // and its range would run the wrong way.
  for (const p of params) {
    if (!(p.min <= p.before && p.before <= p.max)) throw new Error(`${p.path} is ${p.before}, outside its calibration bounds ${p.min} .. ${p.max}: widen them or change the value`);
  }
  const days = cal.days ?? s.days;
  const toValues = (x: number[]) => x.map((u, k) => roundValue(params[k].min + u * (params[k].max - params[k].min)));
  let count = 0;
  let stage: Evaluation["stage"] = "fit";
  let best: Evaluation | undefined;

  // Rounding maps nearby simplex points to the same values: simulate each only once.
  const seen = new Map<string, Evaluation>();
  const evaluateValues = async (values: number[]): Promise<Evaluation> => {
    const known = seen.get(values.join());
    if (known) return known;
    const point = withValues(s, values);
    const summaries = await Promise.all(cal.seeds.map((seed) => run(point, seed, cal.population, days)));
    const { targets, loss } = judgeTargets(s, summaries);
    const e = { evaluation: ++count, stage, values, loss, targets };
    seen.set(values.join(), e);
    if (stage === "fit" && (!best || loss < best.loss)) best = e;
    onEvaluation?.(e);
    return e;
  };

  const beforeValues = params.map((p) => p.before);
  const before = await evaluateValues(beforeValues);
  const x0 = params.map((p) => Math.min(1, Math.max(0, (p.before - p.min) / (p.max - p.min))));
  await nelderMead(async (x) => (await evaluateValues(toValues(x))).loss, x0, {
    maxEvaluations: Math.max(0, cal.evaluations - 1),
    // Every target well inside its tolerance: nothing left worth the time.
    goal: 0.05 * s.targets.length,
  });
  const after = best!;
  const fitEvaluations = count;
  const fitSeconds = (performance.now() - t0) / 1000;

  stage = "range";
  const budget = cal.rangeEvaluations ?? defaultRangeEvaluations(params.length);
  const missed = after.targets.filter((t) => !t.pass).map((t) => t.metric);
  const ranges = missed.length ? [] : await profileRanges(params, after, evaluateValues, budget);
  return {
    parameters: params.map((p, k) => ({ path: p.path, min: p.min, max: p.max, before: p.before, after: after.values[k] })),
    before,
    after,
    evaluations: fitEvaluations,
    seconds: fitSeconds,
    range: { ranges, missed, evaluations: count - fitEvaluations, budget, seconds: (performance.now() - t0) / 1000 - fitSeconds },
  };
}
