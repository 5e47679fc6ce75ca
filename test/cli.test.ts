// End-to-end tests of the `credence` command line: each spawns `node dist/src/cli/main.js`.
// validate, schema and scenarios need only the scenario schema; run and explain need the
// simulator, the run-folder writer and DuckDB.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url)); // dist/test
const CLI = resolve(here, "../src/cli/main.js");
const distSrc = resolve(here, "../src");

const tmp = mkdtempSync(join(tmpdir(), "credence-cli-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function credence(args: string[], cwd = tmp): Ran {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", timeout: 300_000, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const write = (name: string, text: string): string => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

const VALID = `
name: tiny-test
title: Tiny test scenario
days: 30
population:
  size: 2000
  regions:
    - { name: north, weight: 1, urbanShare: 0.7 }
    - { name: south, weight: 1, urbanShare: 0.3 }
behaviours:
  - { id: jaywalking, class: public, ratePerYear: 20, points: -5, observedBy: [cameras] }
  - { id: unpaid-debt, class: financial, ratePerYear: 3, points: -60, observedBy: [records] }
  - { id: blood-donation, class: civic, ratePerYear: 1, points: 5, observedBy: [records] }
scoring:
  association: { enabled: true }
lists:
  - id: dishonest-debtors
    kind: black
    entry: { scoreBelow: 960, acts: [unpaid-debt] }
    sanctions: [flights, trains]
appeals:
  enabled: true
  stages: [{ latencyDays: 5 }]
targets:
  - { metric: listed_share.dishonest-debtors, value: 0.1, tolerance: 0.5 }
`;

// An unknown key and a negative rate: schema problems.
const BAD_SCHEMA = `
name: bad-schema
population:
  regions: [{ name: north, weight: 1 }]
behaviours:
  - { id: jaywalking, class: public, ratePerYear: 5, points: -5, observedBy: [cameras] }
observation:
  cameras:
    resolution: 4k
    falseMatchRate: -0.25
`;

// A list whose entry names a behaviour that does not exist: a cross-field problem. (The loader
// reports these only once the schema itself passes, so it gets a file of its own.)
const BAD_REFERENCE = `
name: bad-reference
population:
  regions: [{ name: north, weight: 1 }]
behaviours:
  - { id: jaywalking, class: public, ratePerYear: 5, points: -5, observedBy: [cameras] }
lists:
  - id: spitters
    kind: black
    entry: { acts: [spitting] }
`;

/** Problem lines as formatProblem prints them: indented `path: found X, expected Y`. */
const problemLines = (text: string) => text.split("\n").filter((l) => /^\s+\S.*: found .*, expected /.test(l));

test("validate: ok line for a valid scenario", () => {
  const good = write("good.yaml", VALID);
  const r = credence(["validate", good]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ok .*good\.yaml: tiny-test \(3 behaviours, 1 list\)$/m);
});

test("validate: malformed scenarios exit 1 and name each field path and value", () => {
  const good = write("good2.yaml", VALID);
  const badSchema = write("bad-schema.yaml", BAD_SCHEMA);
  const badRef = write("bad-reference.yaml", BAD_REFERENCE);
  const r = credence(["validate", good, badSchema, badRef]);
  assert.equal(r.code, 1);
  const all = r.stdout + r.stderr;
  assert.match(all, /^ok .*good2\.yaml/m);
  const lines = problemLines(all);
  assert.ok(lines.length >= 3, `expected at least 3 problem lines, got:\n${all}`);
  const find = (path: string) => lines.find((l) => l.trim().startsWith(`${path}:`));
  const unknown = find("observation.cameras.resolution");
  assert.ok(unknown, `no line for the unknown key in:\n${all}`);
  assert.match(unknown, /found "4k"/);
  const negative = find("observation.cameras.falseMatchRate");
  assert.ok(negative, `no line for the negative rate in:\n${all}`);
  assert.match(negative, /found -0\.25, expected .*>= 0/);
  const missing = find("lists[0].entry.acts[0]");
  assert.ok(missing, `no line for the missing behaviour in:\n${all}`);
  assert.match(missing, /found "spitting", expected .*behaviour/);
  // Every problem line has the shape path: found X, expected Y.
  for (const l of lines) assert.match(l.trim(), /^[\w.[\]-]+: found .+, expected .+$/);
});

test("validate: a missing file is a problem, not a crash", () => {
  const r = credence(["validate", join(tmp, "nope.yaml")]);
  assert.equal(r.code, 1);
  assert.match(r.stdout + r.stderr, /found no readable file/);
});

test("schema: field reference names field paths with their defaults", () => {
  const r = credence(["schema"]);
  assert.equal(r.code, 0, r.stderr);
  const row = r.stdout.split("\n").find((l) => l.startsWith("| `observation.cameras.falseMatchRate` |"));
  assert.ok(row, "no row for observation.cameras.falseMatchRate");
  assert.match(row, /\| `0\.002` \|/);
  assert.match(row, /number \(0 to 1\)/);
  for (const path of ["name", "population.size", "population.regions[].name", "lists[].entry.scoreBelow", "scoring.association.friendShare", "metrics.trailSample", "consequences.sanctions.flights.attemptsPerYear"]) {
    assert.ok(r.stdout.includes(`| \`${path}\` |`), `missing ${path}`);
  }
  assert.match(r.stdout, /\| `population\.regions\[\]\.weight` \| number \(> 0\) \| \*required\* \|/);
  assert.match(r.stdout, /\| `consequences\.sanctions\.flights\.attemptsPerYear` \| [^|]+ \| `2\.4`/);

  const out = join(tmp, "docs", "scenario-reference.md");
  const w = credence(["schema", "--out", out]);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(w.stdout, "");
  assert.equal(readFileSync(out, "utf8"), r.stdout);
});

test("scenarios: lists each yaml with name, title and validity", () => {
  const dir = join(tmp, "scen");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "a-good.yaml"), VALID);
  writeFileSync(join(dir, "b-bad.yaml"), BAD_REFERENCE);
  writeFileSync(join(dir, "notes.txt"), "not a scenario");
  const r = credence(["scenarios", "--dir", dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /a-good\.yaml\s+tiny-test\s+Tiny test scenario/);
  assert.match(r.stdout, /b-bad\.yaml\s+bad-reference\s+INVALID/);
  assert.doesNotMatch(r.stdout, /notes\.txt/);
});

test("run: an invalid scenario exits 2 with its problems on stderr", () => {
  const bad = write("bad-run.yaml", BAD_SCHEMA);
  const r = credence(["run", bad, "--out", join(tmp, "never"), "--json"]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /observation\.cameras\.falseMatchRate: found -0\.25/);
  assert.equal(existsSync(join(tmp, "never")), false);
});

test("run: bad option values are refused", () => {
  const good = write("good3.yaml", VALID);
  const r = credence(["run", good, "--population", "-5"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /population/);
});

test("calibrate: bad seeds and budgets are refused before simulating", () => {
  const good = write("cal-bad.yaml", VALID + "calibration: { parameters: [{ path: behaviours.unpaid-debt.ratePerYear, min: 0, max: 10 }] }\n");
  for (const [flag, value, message] of [["--seeds", "1,1", /each seed once/], ["--seeds", "1,,2", /whole number/], ["--range-evaluations", "", /whole number/], ["--range-evaluations", "-1", /whole number/]]) {
    const r = credence(["calibrate", good, flag as string, value as string, "--out", join(tmp, "never.yaml")]);
    assert.notEqual(r.code, 0, `${flag} ${value}`);
    assert.match(r.stderr, message as RegExp);
    assert.equal(existsSync(join(tmp, "never.yaml")), false);
  }
});

test("calibrate: the report shows each parameter's range on the seeds asked for (needs the simulator)", { timeout: 300_000 }, () => {
  const file = write("cal.yaml", VALID + "calibration: { parameters: [{ path: behaviours.unpaid-debt.ratePerYear, min: 0, max: 10 }] }\n");
  const out = join(tmp, "cal-fit.yaml");
  const r = credence(["calibrate", file, "--population", "500", "--evaluations", "4", "--range-evaluations", "3", "--seeds", "3,4", "--workers", "1", "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /each the mean of seeds 3, 4 at 500 citizens/);
  assert.match(r.stderr, /range 1\/3 /);
  assert.doesNotMatch(r.stderr, /range 4\/3 /);
  const report = readFileSync(join(tmp, "cal-fit.calibration.md"), "utf8");
  assert.match(report, /each the mean of seeds 3, 4 at 500 citizens/);
  assert.match(report, /\| behaviours\.unpaid-debt\.ratePerYear \| 0 \.\. 10 \| 3 \| [\d.]+ \| [\d.]+ \.\. [\d.]+ \| below: .+; above: .+ \|/);
  assert.match(report, /Range where every target holds: [0-3] evaluations \(at most 3\)/);
  assert.match(r.stdout, /every target holds/);
});

test("run: refuses, before simulating, a non-empty folder that is not a run", () => {
  const good = write("good4.yaml", VALID);
  const dir = join(tmp, "not-a-run");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "precious.txt"), "keep me");
  const r = credence(["run", good, "--out", dir, "--quiet"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /not a run folder/);
  assert.equal(readFileSync(join(dir, "precious.txt"), "utf8"), "keep me");
});

test("progress: plain lines on a non-TTY stream, about one per tenth of the run", async () => {
  const { createProgress } = (await import(pathToFileURL(join(distSrc, "cli/progress.js")).href)) as typeof import("../src/cli/progress.js");
  const written: string[] = [];
  const stream = { isTTY: false, columns: 80, write: (s: string) => (written.push(s), true) } as unknown as NodeJS.WriteStream;
  const p = createProgress({ population: 1_000_000, stream });
  const days = 3650;
  p.update({ phase: "population", day: 0, days, date: "2018-01-01", elapsedSeconds: 0 });
  for (let d = 0; d <= days; d++) p.update({ phase: "simulate", day: d, days, date: "2018-01-01", elapsedSeconds: 1 + d * 0.01 });
  p.update({ phase: "collect", day: days, days, date: "2028-01-01", elapsedSeconds: 40 });
  p.done();
  const lines = written.join("").split("\n").filter(Boolean);
  assert.ok(lines.length >= 10 && lines.length <= 13, `got ${lines.length} lines:\n${lines.join("\n")}`);
  assert.ok(!written.join("").includes("\r"), "no carriage returns off a TTY");
  assert.match(lines.find((l) => l.includes("100%")) ?? "", /day 3,650\/3,650 .*agent-days\/s/);
});

// ---------------------------------------------------------------------------------------------
// These need the simulator (src/model/simulate.ts), the run-folder writer and DuckDB.

test("run --json, run, explain (needs the simulator)", { timeout: 300_000 }, async (t) => {
  const scenario = write("tiny.yaml", VALID);
  const runDir = join(tmp, "runs", "tiny");

  await t.test("run --json prints exactly one JSON object", () => {
    const r = credence(["run", scenario, "--out", runDir, "--json", "--quiet", "--seed", "3"]);
    assert.equal(r.code, 0, r.stderr);
    const parsed = JSON.parse(r.stdout) as Record<string, any>;
    assert.equal(typeof parsed, "object");
    assert.equal(parsed.summary.population, 2000);
    assert.equal(parsed.summary.days, 30);
    assert.equal(parsed.seed, 3);
    assert.equal(parsed.status, "complete");
    assert.ok(parsed.stats && typeof parsed.stats.agentDaysPerSecond === "number");
    assert.equal(parsed.scenario, undefined, "the scenario is left out of --json");
    assert.equal(resolve(tmp, parsed.run), runDir);
    assert.equal(parsed.summary.targets.length, 1);
    assert.ok(existsSync(join(runDir, "run.duckdb")));
  });

  await t.test("run prints a readable summary and no flood of progress lines", () => {
    const out = join(tmp, "runs", "tiny-text");
    const r = credence(["run", scenario, "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /2,000 synthetic citizens/);
    assert.match(r.stdout, /dishonest-debtors/);
    assert.match(r.stdout, /^\s+listed_share\.dishonest-debtors .*(PASS|FAIL)$/m);
    assert.match(r.stdout, /Run folder: /);
    assert.match(r.stdout, /credence explain /);
    const progressLines = r.stderr.split("\n").filter(Boolean);
    assert.ok(progressLines.length <= 20, `too many progress lines on a non-TTY stderr:\n${r.stderr}`);
  });

  const { queryRows } = (await import(pathToFileURL(join(distSrc, "io/duckdb.js")).href)) as {
    queryRows: (db: string, sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;
  };
  const listed = await queryRows(join(runDir, "run.duckdb"), `SELECT agent FROM trail WHERE event = 'listed' ORDER BY agent LIMIT 1`);
  const agent = Number(listed[0]?.agent);

  await t.test("explain prints a listed citizen's events in day order", () => {
    assert.ok(Number.isInteger(agent), "no listed citizen in the trail");
    const r = credence(["explain", runDir, "--agent", String(agent)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`#${agent}`));
    const dates = r.stdout.split("\n").map((l) => /^(\d{4}-\d{2}-\d{2})  /.exec(l)?.[1]).filter((d): d is string => Boolean(d));
    assert.ok(dates.length > 0, r.stdout);
    for (let i = 1; i < dates.length; i++) assert.ok(dates[i - 1] <= dates[i], `dates out of order: ${dates[i - 1]} then ${dates[i]}`);
    assert.match(r.stdout, /LISTED\s+on dishonest-debtors/);
  });

  await t.test("explain --json prints {citizen, events} in (day, seq) order", () => {
    const r = credence(["explain", runDir, "--agent", String(agent), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const x = JSON.parse(r.stdout) as { citizen: Record<string, unknown>; events: { day: number; seq: number; event: string }[] };
    assert.equal(Number(x.citizen.agent), agent);
    assert.ok(x.events.some((e) => e.event === "listed"));
    for (let i = 1; i < x.events.length; i++) {
      const a = x.events[i - 1], b = x.events[i];
      assert.ok(a.day < b.day || (a.day === b.day && a.seq <= b.seq), `events out of order at ${i}`);
    }
  });

  await t.test("explain of a citizen outside the sample says so and exits 1", () => {
    const r = credence(["explain", runDir, "--agent", "1999999"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not in the trail sample/);
    assert.match(r.stderr, /2,000/);
  });

  await t.test("explain refuses an incomplete run with its reason", async () => {
    const copy = join(tmp, "runs", "tiny-incomplete");
    cpSync(runDir, copy, { recursive: true });
    const { markIncomplete } = (await import(pathToFileURL(join(distSrc, "io/run-folder.js")).href)) as {
      markIncomplete: (dir: string, reason: string) => unknown;
    };
    await markIncomplete(copy, "interrupted in a test");
    const r = credence(["explain", copy, "--agent", String(agent)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /interrupted in a test/);
  });
});

test("run: SIGINT stops the simulation, exits 130 and writes nothing (needs the simulator)", { timeout: 300_000 }, async () => {
  const scenario = write("long.yaml", VALID.replace("days: 30", "days: 3650").replace("size: 2000", "size: 300000"));
  const out = join(tmp, "runs", "interrupted");
  const child = spawn(process.execPath, [CLI, "run", scenario, "--out", out], { cwd: tmp });
  let stderr = "";
  const exited = new Promise<number | null>((res) => child.on("close", (code) => res(code)));
  // Wait for the first progress line: the signal handlers are in place before it is drawn (a
  // fixed delay was flaky on a loaded machine, where the child had not started yet).
  await new Promise<void>((res) => {
    const timer = setTimeout(res, 30_000);
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      clearTimeout(timer);
      res();
    });
  });
  child.kill("SIGINT");
  const code = await exited;
  assert.equal(code, 130, stderr);
  assert.match(stderr, /SIGINT/);
  assert.equal(existsSync(join(out, "manifest.json")), false);
});
