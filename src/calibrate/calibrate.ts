// Calibration: fit the parameters a scenario marks under `calibration:` to its targets.
// The objective is the sum over targets of the squared deviation in units of the target's
// tolerance (|z| <= 1 passes), on the mean of the same seeds every evaluation. See
// nelder-mead.ts for why that optimiser.
import type { Scenario } from "../scenario/schema.js";
import type { Summary, TargetResult } from "../model/result.js";
import { parseScenario } from "../scenario/load.js";
import { numberAt, setPath } from "../scenario/paths.js";
import { nelderMead } from "./nelder-mead.js";

/** Runs one scenario for one seed; the caller decides where (a worker, this thread). */
export type Runner = (s: Scenario, seed: number, population: number, days: number) => Promise<Summary>;

export interface Evaluation {
  evaluation: number;
  values: number[];
  loss: number;
  targets: TargetResult[];
}

export interface CalibrationResult {
  parameters: { path: string; min: number; max: number; before: number; after: number }[];
  before: Evaluation;
  after: Evaluation;
  evaluations: number;
  seconds: number;
}

/** Targets judged on the mean over seeds of each metric. */
export function judgeTargets(s: Scenario, summaries: Summary[]): { targets: TargetResult[]; loss: number } {
  let loss = 0;
  const targets = s.targets.map((t) => {
    const vals = summaries.map((x) => x.metrics[t.metric]).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    const simulated = vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
    const z = simulated === null ? 10 : (simulated - t.value) / (t.tolerance * Math.abs(t.value) || 1e-12);
    loss += z * z;
    return { metric: t.metric, target: t.value, tolerance: t.tolerance, simulated, pass: Math.abs(z) <= 1, ...(t.source ? { source: t.source } : {}) };
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

export async function calibrate(s: Scenario, run: Runner, onEvaluation?: (e: Evaluation) => void): Promise<CalibrationResult> {
  const cal = s.calibration;
  if (!cal) throw new Error(`${s.name} has no calibration section: nothing to fit`);
  const t0 = performance.now();
  const params = cal.parameters.map((p) => ({ ...p, before: numberAt(s, p.path).value }));
  const days = cal.days ?? s.days;
  const toValues = (x: number[]) => x.map((u, k) => roundValue(params[k].min + u * (params[k].max - params[k].min)));
  let count = 0;
  let best: Evaluation | undefined;

  // Rounding maps nearby simplex points to the same values: simulate each only once.
  const seen = new Map<string, Evaluation>();
  const evaluateValues = async (values: number[]): Promise<Evaluation> => {
    const known = seen.get(values.join());
    if (known) return known;
    const point = withValues(s, values);
    const summaries = await Promise.all(cal.seeds.map((seed) => run(point, seed, cal.population, days)));
    const { targets, loss } = judgeTargets(s, summaries);
    const e = { evaluation: ++count, values, loss, targets };
    seen.set(values.join(), e);
    if (!best || loss < best.loss) best = e;
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
  return {
    parameters: params.map((p, k) => ({ path: p.path, min: p.min, max: p.max, before: p.before, after: after.values[k] })),
    before,
    after,
    evaluations: count,
    seconds: (performance.now() - t0) / 1000,
  };
}
