// Scenario overlays (extends), parameter paths, the calibration optimiser and fit, and the
// comparison statistics of issue 3.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { loadScenario, reportedYear } from "../src/scenario/load.js";
import { numberAt, resolvePath } from "../src/scenario/paths.js";
import { nelderMead } from "../src/calibrate/nelder-mead.js";
import { calibrate, judgeTargets, type Runner } from "../src/calibrate/calibrate.js";
import { calibratedYaml, calibrationReport } from "../src/calibrate/write.js";
import { compareSummaries, difference, estimate } from "../src/analysis/compare.js";
import { simulate } from "../src/model/simulate.js";
import type { Summary } from "../src/model/result.js";
import { makeScenario, problemsOf } from "./helpers.js";

const scenarios = new URL("../../scenarios/", import.meta.url).pathname;

test("a counterfactual overlay changes only the keys it names", () => {
  const base = reportedYear(loadScenario(join(scenarios, "china-2018.yaml")));
  const cf = reportedYear(loadScenario(join(scenarios, "china-2018-no-fr-errors.yaml")));
  assert.equal(cf.name, "china-2018-no-fr-errors");
  assert.equal(cf.observation.cameras.falseMatchRate, 0);
  assert.equal(cf.observation.cameras.phantomPerYear, 0);
  assert.deepEqual(cf.targets, []);
  assert.equal(cf.calibration, undefined);
  // Everything else is the base's.
  const strip = (s: typeof base) => ({ ...s, name: "", title: "", description: "", targets: [], calibration: undefined, observation: { ...s.observation, cameras: { ...s.observation.cameras, falseMatchRate: 0, phantomPerYear: 0 } } });
  assert.deepEqual(strip(cf), strip(base));
});

test("overlays patch list elements by id, and name what they cannot find", () => {
  const dir = mkdtempSync(join(tmpdir(), "credence-overlay-"));
  writeFileSync(join(dir, "base.yaml"), readFileSync(join(scenarios, "city-pilot.yaml")));
  const id = loadScenario(join(dir, "base.yaml")).behaviours[0].id;
  writeFileSync(join(dir, "a.yaml"), `extends: base.yaml\nname: a\nbehaviours:\n  ${id}:\n    points: -99\n`);
  const a = loadScenario(join(dir, "a.yaml"));
  assert.equal(a.behaviours[0].points, -99);
  assert.equal(a.behaviours.length, loadScenario(join(dir, "base.yaml")).behaviours.length);

  writeFileSync(join(dir, "b.yaml"), "extends: base.yaml\nname: b\nbehaviours:\n  no-such-act:\n    points: 1\n");
  const p = problemsOf(() => loadScenario(join(dir, "b.yaml")));
  assert.equal(p[0].path, "behaviours.no-such-act");
  assert.match(p[0].expected, new RegExp(id));

  writeFileSync(join(dir, "c.yaml"), "extends: d.yaml\nname: c\n");
  writeFileSync(join(dir, "d.yaml"), "extends: c.yaml\nname: d\n");
  assert.match(problemsOf(() => loadScenario(join(dir, "c.yaml")))[0].expected, /cycle/);

  writeFileSync(join(dir, "e.yaml"), "extends: missing.yaml\nname: e\n");
  assert.equal(problemsOf(() => loadScenario(join(dir, "e.yaml")))[0].path, "extends");
  // A bad value inside the overlay is reported at its path, like any scenario error.
  writeFileSync(join(dir, "f.yaml"), "extends: base.yaml\nname: f\ndays: -3\n");
  assert.equal(problemsOf(() => loadScenario(join(dir, "f.yaml")))[0].path, "days");
});

test("parameter paths pick list elements by id or index and refuse what is not there", () => {
  const s = reportedYear(loadScenario(join(scenarios, "china-2018.yaml")));
  const r = numberAt(s, "behaviours.judgment-default.ratePerYear");
  assert.equal(r.value, s.behaviours.find((b) => b.id === "judgment-default")!.ratePerYear);
  assert.equal(numberAt(s, "population.regions.0.weight").value, s.population.regions[0].weight);
  assert.match((resolvePath(s, "behaviours.nope.ratePerYear") as { error: string }).error, /nope/);
  assert.throws(() => numberAt(s, "scoring.secrecy"), /expected a number/);
  // The loader checks calibration paths.
  const bad = { ...structuredClone(s), calibration: { ...s.calibration!, parameters: [{ path: "scoring.nothing", min: 0, max: 1 }] } };
  const dir = mkdtempSync(join(tmpdir(), "credence-cal-"));
  writeFileSync(join(dir, "bad.json.yaml"), JSON.stringify(bad));
  const p = problemsOf(() => loadScenario(join(dir, "bad.json.yaml")));
  assert.equal(p[0].path, "calibration.parameters[0].path");
});

test("Nelder-Mead finds the minimum of a quadratic bowl anywhere in the unit cube", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.double({ min: 0.05, max: 0.95, noNaN: true }), { minLength: 1, maxLength: 4 }), async (opt) => {
      const f = async (x: number[]) => x.reduce((a, v, i) => a + (i + 1) * (v - opt[i]) ** 2, 0);
      const r = await nelderMead(f, opt.map(() => 0.5), { maxEvaluations: 400, tolerance: 1e-12 });
      assert.ok(r.evaluations <= 400);
      for (let i = 0; i < opt.length; i++) assert.ok(Math.abs(r.x[i] - opt[i]) < 0.02, `coordinate ${i}: ${r.x[i]} vs ${opt[i]}`);
    }),
    { numRuns: 25 },
  );
});

test("calibration fits a rate to its target, and the fitted file keeps its comments", async () => {
  // Acts per capita is (nearly) proportional to the behaviour rates: a target the fit must reach.
  const s = makeScenario({
    population: { size: 2_000 }, days: 60,
    targets: [{ metric: "acts_per_capita", value: 30, tolerance: 0.05 }],
    calibration: { population: 2_000, seeds: [1], evaluations: 40, parameters: [{ path: "behaviours.jaywalking.ratePerYear", min: 0, max: 60 }] },
  });
  const run = async (p: typeof s, seed: number, population: number, days: number) => simulate(p, { seed, population, days }).summary;
  const r = await calibrate(s, run);
  assert.equal(r.before.targets[0].pass, false, "the starting rate misses the target");
  assert.equal(r.after.targets[0].pass, true, `after: ${r.after.targets[0].simulated}`);
  assert.ok(r.after.loss < r.before.loss);
  assert.ok(r.evaluations <= 40);

  const yaml = "name: x # the id\nbehaviours:\n  - id: jaywalking\n    ratePerYear: 4 # assumption: a guess\n";
  const out = calibratedYaml(yaml, r, "2026-11-23", s);
  assert.match(out, /# the id/);
  assert.match(out, new RegExp(`ratePerYear: ${r.parameters[0].after} # calibrated 2026-11-23 by credence calibrate \\(was 4\\); assumption: a guess`));
  // Calibrated again: the earlier note is replaced, what the comment said besides it is kept, and nothing trails.
  const again = calibratedYaml(out, r, "2026-12-06", s);
  assert.match(again, new RegExp(`# calibrated 2026-12-06 by credence calibrate \\(was 4\\); assumption: a guess\n`));
  const bare = calibratedYaml(yaml.replace(" # assumption: a guess", ""), r, "2026-11-23", s);
  assert.match(calibratedYaml(bare, r, "2026-12-06", s), /by credence calibrate \(was 4\)\n/, "no trailing separator");
});

const fakeSummary = (metrics: Record<string, number>) => ({ metrics }) as unknown as Summary;

// The range step, on an analytic model instead of a simulation: acts_per_capita is the jaywalking
// rate p (target 5 ± 20%: holds exactly for p in [4, 6], bounds 0..20) and chilling the rumours
// rate q (target 5 ± 200%: holds on all of its bounds 0..10). Each seed is off by ±0.1, so only
// their mean hits the value.
const rangeScenario = (calibration: Record<string, unknown> = {}) => makeScenario({
  targets: [{ metric: "acts_per_capita", value: 5, tolerance: 0.2 }, { metric: "chilling", value: 5, tolerance: 2 }],
  calibration: {
    seeds: [1, 2], evaluations: 60,
    parameters: [{ path: "behaviours.jaywalking.ratePerYear", min: 0, max: 20 }, { path: "behaviours.rumours.ratePerYear", min: 0, max: 10 }],
    ...calibration,
  },
});
function analyticRunner(): { run: Runner; calls: () => number } {
  let calls = 0;
  const run: Runner = async (point, seed) => {
    calls++;
    const noise = seed === 1 ? 0.1 : -0.1;
    return fakeSummary({
      acts_per_capita: numberAt(point, "behaviours.jaywalking.ratePerYear").value + noise,
      chilling: numberAt(point, "behaviours.rumours.ratePerYear").value + noise,
    });
  };
  return { run, calls: () => calls };
}

test("fit ranges: the range holds the optimum, ends where a target starts to fail, and marks a bound that limits it", async () => {
  const { run, calls } = analyticRunner();
  const r = await calibrate(rangeScenario(), run);
  assert.ok(r.after.targets.every((t) => t.pass));
  const [p, q] = r.range.ranges;
  r.range.ranges.forEach((x, k) => assert.ok(x.low.value <= r.parameters[k].after && r.parameters[k].after <= x.high.value, `parameter ${k}: ${JSON.stringify(x)}`));
  // Default budget 10 per parameter: 5 per side, the bound and four halvings, so each edge of p
  // is bracketed to 1/16 of the distance from the best fit to the bound (plus rounding).
  const best = r.parameters[0].after;
  for (const [edge, exact, bound] of [[p.low, 4, 0], [p.high, 6, 20]] as const) {
    assert.equal(edge.limit, "targets");
    assert.deepEqual(edge.failing, ["acts_per_capita"]);
    const bracket = Math.abs(bound - best) / 16 + 1e-3;
    assert.ok(Math.abs(edge.value - exact) <= bracket, `edge ${edge.value} vs ${exact} (within ${bracket})`);
    assert.ok(Math.abs(edge.beyond! - edge.value) <= bracket && Math.sign(edge.beyond! - exact) === Math.sign(exact - best), `fails at ${edge.beyond}, past ${exact}`);
  }
  assert.deepEqual([q.low, q.high], [{ value: 0, limit: "bound" }, { value: 10, limit: "bound" }]);
  // Every simulation counted: the fit's and the range's evaluations, each on both seeds.
  assert.ok(r.range.evaluations <= 20 && r.range.budget === 20);
  assert.equal(calls(), 2 * (r.evaluations + r.range.evaluations));
  const report = calibrationReport("x", r, { population: 1000, days: 10, seeds: [1, 2] });
  assert.match(report, /seeds 1, 2/);
  assert.match(report, new RegExp(`\\| behaviours.rumours.ratePerYear \\| 0 \\.\\. 10 \\| 2 \\| ${r.parameters[1].after} \\| 0 \\.\\. 10 \\| below: the bound; above: the bound \\|`));
  assert.match(report, new RegExp(`\\| ${p.low.value} \\.\\. ${p.high.value} \\| below: acts_per_capita fails at ${p.low.beyond}; above: acts_per_capita fails at ${p.high.beyond} \\|`));
});

test("fit ranges: never more evaluations than allowed, none when the best fit misses a target; repeated seeds and starting values outside the bounds refused", async () => {
  for (const budget of [0, 1, 3, 7]) {
    const { run, calls } = analyticRunner();
    const r = await calibrate(rangeScenario({ rangeEvaluations: budget }), run);
    assert.ok(r.range.evaluations <= budget, `budget ${budget}: ${r.range.evaluations}`);
    assert.equal(calls(), 2 * (r.evaluations + r.range.evaluations));
    if (budget === 0) assert.ok(r.range.ranges.flatMap((x) => [x.low, x.high]).every((e) => e.limit === "untried"));
  }
  // q cannot reach chilling 50 inside 0..10: no range, and no evaluation spent looking for one.
  const { run } = analyticRunner();
  const s = rangeScenario();
  s.targets[1] = { ...s.targets[1], value: 50, tolerance: 0.1 };
  const r = await calibrate(s, run);
  assert.deepEqual([r.range.ranges, r.range.missed, r.range.evaluations], [[], ["chilling"], 0]);
  assert.match(calibrationReport("x", r, { population: 1000, days: 10, seeds: [1, 2] }), /No range where every target holds: the best fit misses chilling/);
  // A starting value outside its bounds would be a best fit outside them: refused.
  await assert.rejects(calibrate(rangeScenario({ parameters: [{ path: "behaviours.jaywalking.ratePerYear", min: 0, max: 3 }] }), run), /ratePerYear is 4, outside its calibration bounds 0 \.\. 3/);
  // A seed named twice is refused: it would weigh its draw double.
  const twice = problemsOf(() => rangeScenario({ seeds: [1, 2, 1] }));
  assert.equal(twice[0].path, "calibration.seeds[2]");
});

test("comparison intervals: separated samples differ significantly, equal ones do not, and more replicates narrow them", () => {
  const a = [1.0, 1.1, 0.9, 1.05, 0.95].map((v) => fakeSummary({ chilling: v }));
  const b = [2.0, 2.1, 1.9, 2.05, 1.95].map((v) => fakeSummary({ chilling: v }));
  const [row] = compareSummaries(a, b, ["chilling"]);
  assert.ok(row.significant && row.diff.lo > 0.8 && row.diff.hi < 1.2);
  assert.ok(Math.abs(row.relative! - 1) < 1e-9);
  const [same] = compareSummaries(a, a.slice().reverse(), ["chilling"]);
  assert.equal(same.significant, false);
  assert.ok(same.diff.lo < 0 && same.diff.hi > 0);
  fc.assert(fc.property(fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 2, maxLength: 30 }), (xs) => {
    const e = estimate(xs);
    assert.ok(e.lo <= e.mean + 1e-9 && e.mean <= e.hi + 1e-9);
    // The same spread over twice the replicates gives a narrower interval.
    const e2 = estimate([...xs, ...xs]);
    assert.ok(e2.hi - e2.lo <= e.hi - e.lo + 1e-9);
    const d = difference(xs, xs);
    assert.ok(Math.abs(d.mean) < 1e-9);
  }));
});

test("judging targets on the mean of seeds: a target passes exactly when within tolerance", () => {
  const s = makeScenario({ targets: [{ metric: "chilling", value: 0.5, tolerance: 0.1 }] });
  assert.equal(judgeTargets(s, [fakeSummary({ chilling: 0.52 }), fakeSummary({ chilling: 0.54 })]).targets[0].pass, true);
  assert.equal(judgeTargets(s, [fakeSummary({ chilling: 0.56 }), fakeSummary({ chilling: 0.58 })]).targets[0].pass, false);
});
