// Scenario overlays (extends), parameter paths, the calibration optimiser and fit, and the
// comparison statistics of issue 3.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { loadScenario } from "../src/scenario/load.js";
import { numberAt, resolvePath } from "../src/scenario/paths.js";
import { nelderMead } from "../src/calibrate/nelder-mead.js";
import { calibrate, judgeTargets } from "../src/calibrate/calibrate.js";
import { calibratedYaml } from "../src/calibrate/write.js";
import { compareSummaries, difference, estimate } from "../src/analysis/compare.js";
import { simulate } from "../src/model/simulate.js";
import type { Summary } from "../src/model/result.js";
import { makeScenario, problemsOf } from "./helpers.js";

const scenarios = new URL("../../scenarios/", import.meta.url).pathname;

test("a counterfactual overlay changes only the keys it names", () => {
  const base = loadScenario(join(scenarios, "china-2018.yaml"));
  const cf = loadScenario(join(scenarios, "china-2018-no-fr-errors.yaml"));
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
  const s = loadScenario(join(scenarios, "china-2018.yaml"));
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
