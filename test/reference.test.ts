// The reference scenarios of issue 3: the shipped china-2018 is calibrated, so its targets must
// hold at 1% and at 0.1% of China's 1.4 billion, with seeds the calibration never saw; and the
// compare command must see what a counterfactual changes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadScenario } from "../src/scenario/load.js";
import { simulate } from "../src/model/simulate.js";
import type { MetricComparison } from "../src/analysis/compare.js";

const here = dirname(fileURLToPath(import.meta.url)); // dist/test
const CLI = resolve(here, "../src/cli/main.js");
const scenarios = resolve(here, "../../scenarios");

for (const [share, population, seed] of [["0.1%", 1_400_000, 11], ["1%", 14_000_000, 12]] as const) {
  test(`china-2018's targets hold at ${share} of the population (${population.toLocaleString("en")} citizens, seed ${seed})`, { timeout: 30 * 60_000 }, () => {
    const s = loadScenario(join(scenarios, "china-2018.yaml"));
    s.metrics.trailSample = 1_000; // the targets need only the summary
    const { summary } = simulate(s, { seed, population });
    assert.ok(summary.targets.length >= 6);
    const failed = summary.targets.filter((t) => !t.pass).map((t) => `${t.metric}: ${t.simulated} vs ${t.target} ± ${t.tolerance * 100}%`);
    assert.deepEqual(failed, []);
  });
}

test("compare: without association penalties nobody's points come from others, with an interval that says so", () => {
  const r = spawnSync(process.execPath, [
    CLI, "compare", join(scenarios, "china-2018.yaml"), join(scenarios, "china-2018-no-association.yaml"),
    "--replicates", "3", "--population", "20000", "--days", "120", "--json", "--metrics", "association_penalty_share,listed_share.low-score,chilling",
  ], { encoding: "utf8", timeout: 600_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { a: { replicates: number }; b: { replicates: number }; metrics: MetricComparison[] };
  assert.equal(out.a.replicates, 3);
  assert.equal(out.b.replicates, 3);
  const row = (m: string) => out.metrics.find((x) => x.metric === m)!;
  assert.equal(row("association_penalty_share").b.mean, 0);
  assert.ok(row("association_penalty_share").a.mean > 0.05);
  assert.ok(row("association_penalty_share").significant);
  assert.ok(row("association_penalty_share").diff.hi < 0);
  for (const x of out.metrics) assert.ok(x.a.lo <= x.a.mean && x.a.mean <= x.a.hi);
});
