// Experiments: the experiment file's validation, the designs (grid, Latin hypercube), every
// point validated as a scenario, the t-intervals, resuming a sweep, and the chart renderer;
// what crosses the queue (Redis URLs with passwords, jobs and results checked on arrival).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Rng } from "../src/engine/random.js";
import { parseExperiment, type ExperimentInput } from "../src/experiment/spec.js";
import { generatePoints, gridSize, gridValues, latinHypercube, plan, setPath } from "../src/experiment/points.js";
import { readExperimentManifest } from "../src/experiment/results.js";
import { meanInterval, tQuantile } from "../src/analysis/stats.js";
import { startSweep } from "../src/experiment/sweep.js";
import { RESULTS_FILE } from "../src/experiment/store.js";
import { connectionFor, decodeJob, encodeJob, MAX_JOB_SCENARIO_JSON, redactUrl } from "../src/experiment/queue.js";
import { checkResult, metricRange } from "../src/experiment/validate.js";
import { thisMachine } from "../src/scenario/limits.js";
import { queryRows } from "../src/io/duckdb.js";
import { chartSvg, svgToPng } from "../src/plot/chart.js";
import { SYNTHETIC_CAPTION, SYNTHETIC_STATEMENT } from "../src/io/synthetic.js";
import { baseInput, problemsOf } from "./helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "credence-experiment-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
writeFileSync(join(tmp, "base.yaml"), JSON.stringify(baseInput())); // JSON is YAML

const experiment = (over: Partial<ExperimentInput> = {}) =>
  parseExperiment({
    name: "test-experiment",
    scenario: "base.yaml",
    population: 1500,
    days: 20,
    replicates: 2,
    parameters: { "observation.cameras.falseMatchRate": [0, 0.01] },
    metrics: ["wrongful_share.low-score", "misattributed_share"],
    ...over,
  }, "test experiment", tmp);

test("experiment file: schema problems name the field path, the value found and what was expected", () => {
  const ps = problemsOf(() => experiment({ replicates: 0, colour: "red", parameters: { "scoring.decayPerYear": { from: 0, to: 1 } } } as never));
  const at = (p: string) => ps.find((q) => q.path === p);
  assert.match(at("replicates")?.expected ?? "", />= 1/);
  assert.equal(at("replicates")?.found, "0");
  assert.match(at("colour")?.expected ?? "", /no such key/);
  // Ranges on a grid need steps or by (cross-field rule, reported once the schema passes).
  const ps2 = problemsOf(() => experiment({ parameters: { "scoring.decayPerYear": { from: 0, to: 1 } } }));
  assert.match(ps2.find((q) => q.path === "parameters.scoring.decayPerYear")?.expected ?? "", /steps or by/);
  const ps3 = problemsOf(() => experiment({ metrics: ["wrongful_share.nope"] }));
  assert.equal(ps3[0].path, "metrics[0]");
  assert.match(ps3[0].expected, /wrongful_share\.low-score/);
});

test("a parameter path that is not a scenario field is rejected, naming the path, before anything runs", () => {
  const unknown = problemsOf(() => plan(experiment({ parameters: { "observation.cameras.falseMatch": [0.1, 0.2] } })));
  assert.equal(unknown.length, 1, JSON.stringify(unknown));
  assert.equal(unknown[0].path, "parameters.observation.cameras.falseMatch");
  assert.match(unknown[0].expected, /observation\.cameras\.falseMatch is not one/);
  const noList = problemsOf(() => plan(experiment({ parameters: { "lists.nope.minDays": [1, 2] } })));
  assert.equal(noList[0].path, "parameters.lists.nope.minDays");
  assert.match(noList[0].expected, /no element "nope".*low-score/);
  const badValue = problemsOf(() => plan(experiment({ parameters: { "observation.cameras.falseMatchRate": [0.01, 2] } })));
  assert.equal(badValue[0].path, "parameters.observation.cameras.falseMatchRate");
  assert.equal(badValue[0].found, "2");
  assert.match(badValue[0].expected, /<= 1/);
});

test("setPath reaches list elements by index or id and creates missing sections", () => {
  const data = baseInput();
  assert.deepEqual(setPath(data, "lists.low-score.minDays", 30), ["lists", 0, "minDays"]);
  assert.deepEqual(setPath(data, "lists[2].published", true), ["lists", 2, "published"]);
  assert.deepEqual(setPath(data, "population.regions.South.weight", 3), ["population", "regions", 1, "weight"]);
  assert.deepEqual(setPath(data, "appeals.enabled", true), ["appeals", "enabled"]);
  const d = data as { lists: { minDays?: number; published?: boolean }[]; appeals: { enabled: boolean }; population: { regions: { weight: number }[] } };
  assert.equal(d.lists[0].minDays, 30);
  assert.equal(d.lists[2].published, true);
  assert.equal(d.population.regions[1].weight, 3);
  assert.equal(d.appeals.enabled, true);
});

test("grid: the number of points is the product of the parameters' value counts", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }), (sizes) => {
      const x = experiment({
        parameters: Object.fromEntries(sizes.map((n, i) => [`p${i}`, Array.from({ length: n }, (_, k) => k)])),
      });
      const points = generatePoints(x);
      assert.equal(points.length, sizes.reduce((a, b) => a * b, 1));
      assert.equal(gridSize(x.parameters), points.length);
      // Every combination exactly once.
      assert.equal(new Set(points.map((p) => JSON.stringify(p.values))).size, points.length);
    }),
  );
  assert.deepEqual(gridValues({ path: "a", kind: "range", from: 0, to: 0.01, steps: 5 }), [0, 0.0025, 0.005, 0.0075, 0.01]);
  assert.deepEqual(gridValues({ path: "a", kind: "range", from: 0, to: 0.3, by: 0.1 }), [0, 0.1, 0.2, 0.3]);
});

test("Latin hypercube: exactly one point in each of the N strata of every dimension", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 0x7fffffff }), (n, dims, seed) => {
      const rows = latinHypercube(n, dims, new Rng(seed));
      assert.equal(rows.length, n);
      for (let d = 0; d < dims; d++) {
        const strata = rows.map((r) => Math.floor(r[d] * n)).sort((a, b) => a - b);
        assert.deepEqual(strata, Array.from({ length: n }, (_, i) => i));
        for (const r of rows) assert.ok(r[d] > 0 && r[d] < 1);
      }
    }),
  );
  // Through an experiment: the values of each range parameter fall one per stratum of [from, to].
  const x = experiment({
    design: { latinHypercube: 12 },
    parameters: { "observation.cameras.falseMatchRate": { from: 0, to: 0.012 }, "scoring.decayPerYear": { from: 0.2, to: 0.8 } },
  });
  const points = generatePoints(x);
  const strata = (path: string, from: number, to: number) =>
    points.map((p) => Math.floor((((p.values[path] as number) - from) / (to - from)) * 12)).sort((a, b) => a - b);
  assert.deepEqual(strata("observation.cameras.falseMatchRate", 0, 0.012), Array.from({ length: 12 }, (_, i) => i));
  assert.deepEqual(strata("scoring.decayPerYear", 0.2, 0.8), Array.from({ length: 12 }, (_, i) => i));
  // Deterministic: the same experiment gives the same design.
  assert.deepEqual(generatePoints(x), points);
});

test("tasks: seeds are the experiment seed plus the replicate, ids are stable and distinct", () => {
  const p = plan(experiment({ replicates: 3, seed: 40 }));
  assert.equal(p.tasks.length, 2 * 3);
  assert.deepEqual(p.tasks.map((t) => t.seed), [40, 41, 42, 40, 41, 42]);
  assert.equal(new Set(p.tasks.map((t) => t.id)).size, p.tasks.length);
  assert.deepEqual(plan(experiment({ replicates: 3, seed: 40 })).tasks, p.tasks);
  assert.equal(p.scenarios[1].observation.cameras.falseMatchRate, 0.01);
});

test("t-intervals: known quantiles, shrinking with more replicates, 95% coverage", () => {
  for (const [df, q] of [[1, 12.7062], [2, 4.3027], [4, 2.7764], [9, 2.2622], [30, 2.0423], [1000, 1.9623]]) {
    assert.ok(Math.abs(tQuantile(0.975, df) - q) < 1e-3, `t(0.975, ${df}) = ${tQuantile(0.975, df)}, expected ${q}`);
  }
  const rng = new Rng(11);
  const sample = (n: number) => Array.from({ length: n }, () => 5 + 2 * rng.normal());
  // Mean width over many samples: about t(0.975, n-1) * 2 sd / sqrt(n), falling with n.
  const width = (n: number) => {
    let w = 0;
    for (let i = 0; i < 300; i++) { const iv = meanInterval(sample(n)); w += (iv.high - iv.low) / 300; }
    return w;
  };
  const widths = [3, 5, 10, 40].map(width);
  for (let i = 1; i < widths.length; i++) assert.ok(widths[i] < widths[i - 1], `widths ${widths.join(", ")}`);
  assert.ok(Number.isNaN(meanInterval([3]).low), "one replicate has no interval");
  let covered = 0;
  const trials = 4000;
  for (let i = 0; i < trials; i++) {
    const iv = meanInterval(sample(5));
    if (iv.low <= 5 && 5 <= iv.high) covered++;
  }
  assert.ok(Math.abs(covered / trials - 0.95) < 0.015, `coverage ${covered / trials}`);
});

test("sweep: tables and manifest; a re-run after losing results runs exactly the missing point-replicates", async () => {
  const p = plan(experiment({ parameters: { "observation.cameras.falseMatchRate": [0, 0.02], "appeals.enabled": [false, true] } }));
  const out = join(tmp, "sweep-a");
  const first = await startSweep(p, { out, version: "test", workers: 2 }).done;
  assert.equal(first.ran, 8);
  assert.equal(first.manifest.status, "complete");
  const db = join(out, "experiment.duckdb");
  const runs = await queryRows(db, "SELECT * FROM runs ORDER BY point, replicate");
  assert.equal(runs.length, 8);
  assert.deepEqual(Object.keys(runs[0]).slice(0, 5), ["point", "replicate", "seed", "observation_cameras_falseMatchRate", "appeals_enabled"]);
  assert.ok("wrongful_share_low_score" in runs[0] && "misattributed_share" in runs[0]);
  const summary = await queryRows(db, "SELECT * FROM summary WHERE metric = 'misattributed_share' ORDER BY point");
  assert.equal(summary.length, 4);
  for (const s of summary) {
    const vals = runs.filter((r) => r.point === s.point).map((r) => Number(r.misattributed_share));
    assert.ok(Math.abs(Number(s.mean) - (vals[0] + vals[1]) / 2) < 1e-12);
    assert.ok(Number(s.ci_low) <= Number(s.mean) && Number(s.mean) <= Number(s.ci_high));
  }
  assert.equal(readExperimentManifest(out).status, "complete");
  // Every output says its citizens are synthetic: manifest, table comments, Parquet metadata.
  const written = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as { synthetic?: unknown; note?: unknown };
  assert.deepEqual([written.synthetic, written.note], [true, SYNTHETIC_STATEMENT]);
  for (const t of await queryRows(db, "SELECT table_name, comment FROM duckdb_tables()")) assert.match(String(t.comment), /synthetic citizens/i, String(t.table_name));
  for (const f of readdirSync(join(out, "parquet"))) {
    const kv = await queryRows(db, "SELECT decode(value) AS value FROM parquet_kv_metadata(?) WHERE decode(key) = 'synthetic'", [join(out, "parquet", f)]);
    assert.deepEqual(kv, [{ value: "true" }], f);
  }

  // Lose three results (as a kill would), then re-run: exactly those three run again.
  const file = join(out, RESULTS_FILE);
  const lines = readFileSync(file, "utf8").trim().split("\n");
  writeFileSync(file, lines.slice(0, 5).join("\n") + "\n" + lines[5].slice(0, 20)); // and a torn last line
  const second = await startSweep(p, { out, version: "test", workers: 2 }).done;
  assert.equal(second.ran, 3);
  assert.equal(second.manifest.finished, 8);
  const again = await queryRows(db, "SELECT * FROM runs ORDER BY point, replicate");
  assert.deepEqual(again.map(({ seconds: _s, ...r }) => r), runs.map(({ seconds: _s, ...r }) => r));
  // Nothing left to do: a third run simulates nothing.
  assert.equal((await startSweep(p, { out, version: "test", workers: 2 }).done).ran, 0);
});

test("chart: SVG with title, axis labels and legend; PNG rendered from it", () => {
  const svg = chartSvg({
    title: "Wrongful listings",
    subtitle: "test",
    xLabel: "false-match rate (per act in view)",
    yLabel: "wrongfully listed (%)",
    legendLabel: "appeals",
    yPercent: true,
    points: [0, 0.01, 0.02].flatMap((x, i) => [
      { x, y: 0.1 + i * 0.05, low: 0.08 + i * 0.05, high: 0.12 + i * 0.05, series: "no appeals" },
      { x, y: 0.05 + i * 0.02, low: 0.04 + i * 0.02, high: 0.06 + i * 0.02, series: "appeals" },
    ]),
  });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  for (const text of ["Wrongful listings", "false-match rate (per act in view)", "wrongfully listed (%)", "no appeals", "appeals:", SYNTHETIC_CAPTION]) assert.ok(svg.includes(text), `no "${text}" in the SVG`);
  const png = svgToPng(svg);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(png.readUInt32BE(16), 2 * 860); // width, at twice the SVG's size
});

test("queue URL: user, password and database from the URL; the password is never shown", () => {
  const c = connectionFor("redis://worker:p%40ss%3Aword@queue.example:6380/2") as Record<string, unknown>;
  assert.deepEqual([c.host, c.port, c.username, c.password, c.db, c.maxRetriesPerRequest], ["queue.example", 6380, "worker", "p@ss:word", 2, null]);
  const only = connectionFor("redis://:secret@127.0.0.1") as Record<string, unknown>;
  assert.deepEqual([only.host, only.port, only.username, only.password], ["127.0.0.1", 6379, undefined, "secret"]);
  assert.ok((connectionFor("rediss://h:1") as Record<string, unknown>).tls, "rediss:// is TLS");
  assert.equal(redactUrl("redis://worker:secret@h:6379/0"), "redis://worker:***@h:6379/0");
  assert.equal(redactUrl("redis://h:6379"), "redis://h:6379");
  for (const bad of ["redis://:secret@h:6379/x", "http://:secret@h", "redis//:secret@"]) {
    assert.throws(() => connectionFor(bad), (e: Error) => !e.message.includes("secret"), bad);
  }
});

test("queue results: only the job's own point, every asked metric and no other, each in its possible range", () => {
  const p = plan(experiment({ metrics: ["wrongful_share.low-score", "misattributed_share", "chilling", "mean_score", "acts_per_capita", "grade_share.A"] }));
  const task = p.tasks[1];
  const scenario = p.scenarios[task.point];
  const keys = p.experiment.metrics;
  const honest = { id: task.id, point: task.point, replicate: task.replicate, seed: task.seed, seconds: 1.5, by: "host:42",
    metrics: { "wrongful_share.low-score": 0.5, misattributed_share: 0, chilling: -0.01, mean_score: 990, acts_per_capita: 12, "grade_share.A": 0.2 } };
  assert.deepEqual(checkResult(structuredClone(honest), task, keys, scenario), honest);
  const refused = (what: string, edit: (r: typeof honest & Record<string, unknown>) => void, reason: RegExp) => {
    const r = structuredClone(honest) as typeof honest & Record<string, unknown>;
    edit(r);
    assert.throws(() => checkResult(r, task, keys, scenario), reason, what);
  };
  refused("a share over 1", (r) => (r.metrics["wrongful_share.low-score"] = 1.2), /outside its possible range \[0, 1\]/);
  refused("chilling 12345", (r) => (r.metrics.chilling = 12345), /chilling: 12345 is outside/);
  refused("a negative rate", (r) => (r.metrics.acts_per_capita = -1), /outside/);
  refused("a mean score off the scale", (r) => (r.metrics.mean_score = scenario.scoring.max + 1), /outside/);
  refused("an unknown metric", (r) => ((r.metrics as Record<string, unknown>).made_up = 0.1), /unknown metric "made_up"/);
  refused("a missing metric", (r) => delete (r.metrics as Record<string, unknown>).misattributed_share, /misattributed_share: missing/);
  refused("a share below 0", (r) => (r.metrics["grade_share.A"] = -0.1), /grade_share.A: -0.1 is outside/);
  refused("null where a run always has a value", (r) => ((r.metrics as Record<string, unknown>).acts_per_capita = null), /not a finite number/);
  refused("a string", (r) => ((r.metrics as Record<string, unknown>).misattributed_share = "0.1"), /not a finite number/);
  refused("a forged point", (r) => (r.point = 99), /claims point 99/);
  refused("another task's id", (r) => (r.id = p.tasks[0].id), /claims id/);
  refused("another seed", (r) => (r.seed = task.seed + 1), /claims seed/);
  refused("a worker name with control characters", (r) => (r.by = "x\u001b[2J"), /by: not a worker name/);
  refused("a negative duration", (r) => (r.seconds = -1), /seconds/);
  assert.deepEqual(metricRange("cumulative_listed_share.low-score", scenario), [0, 1]); // people, not entries
  assert.deepEqual(metricRange("grade_share.A", scenario), [0, 1]);
});

test("queue jobs: a worker unpacks and checks a job before it runs it; bombs, bad scenarios and oversized runs are refused", () => {
  const p = plan(experiment());
  const job = { task: p.tasks[0], scenario: p.scenarios[0], population: 1500, days: 20, metrics: p.experiment.metrics };
  const wire = encodeJob(job);
  assert.deepEqual(decodeJob(structuredClone(wire)), job);
  const refused = (data: unknown, reason: RegExp, machine = thisMachine()) => assert.throws(() => decodeJob(data, machine), reason);

  // 64 MiB of zeros in 64 KB: cut off at the unpacked bound, in well under a second.
  const t0 = performance.now();
  refused({ ...wire, scenario: gzipSync(Buffer.alloc(64 * 2 ** 20)).toString("base64") }, new RegExp(`unpacks to more than ${MAX_JOB_SCENARIO_JSON.toLocaleString("en-US")} bytes`));
  assert.ok(performance.now() - t0 < 1500, `took ${performance.now() - t0} ms`);
  refused({ ...wire, scenario: "A".repeat(2 ** 21) }, /characters packed, over the/);
  refused({ ...wire, scenario: "bm90IGd6aXA=" }, /not gzipped JSON/);
  refused({ ...wire, scenario: gzipSync("{").toString("base64") }, /not gzipped JSON/);
  refused({ ...wire, scenario: gzipSync(JSON.stringify({ ...job.scenario, days: -3 })).toString("base64") }, /scenario is not valid:\n\s+days: found -3/);
  refused({ ...wire, metrics: ["listed_share.nope"] }, /"listed_share.nope" not a metric of its scenario/);
  refused({ ...wire, days: 36_501 }, /not a point of an experiment \(days:/);
  refused({ ...wire, command: "rm -rf /" }, /not a point of an experiment/);
  refused({ ...wire, task: { ...wire.task, point: -1 } }, /task.point/);
  // The same limits as `credence run`: 1 GiB free does not hold 20 million citizens.
  const small = { ...thisMachine(), availableBytes: 2 ** 30 };
  refused({ ...wire, population: 20_000_000 }, /too large for this machine:\n\s+population: found 20,000,000, expected at most/, small);
  assert.ok(decodeJob({ ...wire, population: 100_000 }, small), "a run that fits is taken");
});

test("a replicate too large for this machine is refused by the same memory check as a run, before anything is allocated", async () => {
  const { runJob } = await import("../src/experiment/pool.js");
  const { makeScenario } = await import("./helpers.js");
  const scenario = makeScenario();
  const job = { task: { id: "p0-r0", point: 0, replicate: 0, seed: 1 }, scenario, population: 2_000_000_000, days: 365, metrics: ["mean_score"] };
  const started = performance.now();
  await assert.rejects(runJob(job as Parameters<typeof runJob>[0], "local").result, /population\.size: found 2,000,000,000, expected at most [\d,]+ citizens/);
  assert.ok(performance.now() - started < 5_000, "refused at once");
});
