// Scenario validation: malformed scenarios fail with problems that name the field, the value
// found and what was expected; shipped scenarios validate; nothing but ScenarioError escapes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { stringify } from "yaml";
import { loadScenario, MAX_SCENARIO_BYTES, parseScenario, parseScenarioText, ScenarioError, type Problem } from "../src/scenario/load.js";
import { baseInput, deepMerge, makeScenario, type Overrides } from "./helpers.js";

const here = dirname(fileURLToPath(import.meta.url)); // dist/test
const scenariosDir = resolve(here, "../../scenarios");

/** The problems parseScenario reports for the base input with overrides (fails if it parses). */
function problemsOf(overrides: Overrides | ((input: Record<string, unknown>) => void)): Problem[] {
  let input = baseInput();
  if (typeof overrides === "function") overrides(input);
  else input = deepMerge(input, overrides);
  try {
    parseScenario(input, "test");
  } catch (e) {
    assert.ok(e instanceof ScenarioError, `expected a ScenarioError, got ${String(e)}`);
    assert.ok(e.problems.length > 0);
    assert.match(e.message, /^test: \d+ problem\(s\)/);
    return e.problems;
  }
  assert.fail("the scenario should not validate");
}

const findProblem = (problems: Problem[], path: string): Problem => {
  const p = problems.find((x) => x.path === path);
  assert.ok(p, `no problem at ${path}; got ${JSON.stringify(problems)}`);
  return p;
};

test("the test scenario builder gives a valid scenario with defaults filled", () => {
  const s = makeScenario();
  assert.equal(s.name, "test-minimal");
  assert.equal(s.population.regions.length, 3);
  assert.equal(s.lists.length, 3);
  assert.deepEqual(s.lists.map((l) => l.kind), ["black", "black", "red"]);
  // Every channel observes some behaviour; every class is present.
  const channels = new Set(s.behaviours.flatMap((b) => b.observedBy));
  for (const ch of ["cameras", "records", "online", "informants", "attention"]) assert.ok(channels.has(ch as never), ch);
  const classes = new Set(s.behaviours.map((b) => b.class));
  for (const k of ["public", "financial", "misconduct", "speech", "civic"]) assert.ok(classes.has(k as never), k);
  // Defaults from the schema.
  assert.equal(s.observation.records.coverage, 0.95);
  assert.equal(s.appeals.enabled, false);
  assert.equal(s.consequences.sanctions.flights.attemptsPerYear, 2.4);
  assert.equal(s.mechanisms.deterrence, true);
  // Overrides merge deeply: untouched siblings keep their values.
  const t = makeScenario({ observation: { cameras: { falseMatchRate: 0.03 } } });
  assert.equal(t.observation.cameras.falseMatchRate, 0.03);
  assert.equal(t.observation.cameras.trueMatchRate, 0.955);
  assert.equal(t.observation.attention.enabled, true);
});

test("an unknown key is a problem whose path names it", () => {
  let p = problemsOf({ scoring: { bogus: 1 } });
  assert.equal(findProblem(p, "scoring.bogus").expected, "no such key (unknown keys are errors)");
  assert.equal(findProblem(p, "scoring.bogus").found, "1");
  p = problemsOf((s) => { (s.behaviours as Record<string, unknown>[])[2].colour = "red"; });
  findProblem(p, "behaviours[2].colour");
  p = problemsOf({ nonsense: { a: 1 } });
  findProblem(p, "nonsense");
  // A misspelt key inside a list entry.
  p = problemsOf((s) => { ((s.lists as Record<string, unknown>[])[0].entry as Record<string, unknown>).scoreBellow = 900; });
  findProblem(p, "lists[0].entry.scoreBellow");
});

test("a negative rate is a problem with its path and the value found", () => {
  let p = problemsOf((s) => { (s.behaviours as Record<string, unknown>[])[1].ratePerYear = -3; });
  let q = findProblem(p, "behaviours[1].ratePerYear");
  assert.equal(q.found, "-3");
  assert.match(q.expected, />= 0/);
  p = problemsOf({ observation: { cameras: { falseMatchRate: -0.1 } } });
  q = findProblem(p, "observation.cameras.falseMatchRate");
  assert.equal(q.found, "-0.1");
  p = problemsOf({ observation: { records: { coverage: 1.5 } } });
  q = findProblem(p, "observation.records.coverage");
  assert.equal(q.found, "1.5");
  assert.match(q.expected, /<= 1/);
  // A wrong type names the expected type.
  p = problemsOf({ days: "ninety" });
  q = findProblem(p, "days");
  assert.equal(q.found, '"ninety"');
  assert.match(q.expected, /number/);
  // A wrong enum value lists the allowed ones.
  p = problemsOf({ scoring: { secrecy: "hidden" } });
  assert.match(findProblem(p, "scoring.secrecy").expected, /"secret", "published"/);
});

test("a list that references a missing behaviour is a problem at that reference", () => {
  const p = problemsOf((s) => { ((s.lists as Record<string, unknown>[])[1].entry as Record<string, unknown>).acts = ["court-default", "tax-evasion"]; });
  const q = findProblem(p, "lists[1].entry.acts[1]");
  assert.equal(q.found, '"tax-evasion"');
  assert.match(q.expected, /behaviour/);
  assert.equal(p.length, 1, "only the missing reference is a problem");
  // The attention channel's behaviour must exist too.
  findProblem(problemsOf({ observation: { attention: { behaviour: "daydreaming" } } }), "observation.attention.behaviour");
});

test("group shares adding to more than 1 are a problem", () => {
  const p = problemsOf({
    population: { groups: [{ id: "a", share: 0.6 }, { id: "b", share: 0.5 }] },
  });
  const q = findProblem(p, "population.groups");
  assert.match(q.found, /1\.1/);
  assert.match(q.expected, /at most 1/);
  // Exactly 1 is allowed.
  makeScenario({ population: { groups: [{ id: "a", share: 0.5 }, { id: "b", share: 0.5 }] } });
});

test("other cross-field rules: duplicate ids, age shares, scale order, list kinds", () => {
  findProblem(problemsOf((s) => { (s.behaviours as Record<string, unknown>[])[3].id = "jaywalking"; }), "behaviours[3]");
  findProblem(problemsOf({ population: { ageBands: [{ id: "a", share: 0.5 }, { id: "b", share: 0.3 }] } }), "population.ageBands");
  findProblem(problemsOf({ scoring: { min: 2000, max: 1000 } }), "scoring.min");
  findProblem(problemsOf({ scoring: { initial: 2000 } }), "scoring.initial");
  findProblem(problemsOf((s) => { ((s.lists as Record<string, unknown>[])[2].entry as Record<string, unknown>).scoreAtLeast = undefined; }), "lists[2].entry.scoreAtLeast");
  findProblem(problemsOf((s) => { (s.lists as Record<string, unknown>[])[0].privileges = ["vip-airport"]; }), "lists[0].privileges");
  findProblem(problemsOf((s) => { (s.lists as Record<string, unknown>[])[2].sanctions = ["flights"]; }), "lists[2].sanctions");
  findProblem(problemsOf({ population: { groups: [{ id: "a", share: 0.1, shareByRegion: { Atlantis: 0.5 } }] } }), "population.groups[0].shareByRegion.Atlantis");
  findProblem(problemsOf({ targets: [{ metric: "listed_share.no-such-list", value: 0.1 }] }), "targets[0].metric");
  findProblem(problemsOf({ name: "Not An Id" }), "name");
});

test("YAML text: syntax errors and duplicate keys are ScenarioErrors with a line", () => {
  const bad = (text: string) => {
    assert.throws(() => parseScenarioText(text, "bad.yaml"), (e: unknown) => {
      assert.ok(e instanceof ScenarioError);
      assert.match(e.problems[0].path, /^line /);
      assert.match(e.message, /^bad\.yaml:/);
      return true;
    });
  };
  bad("name: x\n  days: [1, 2\n");
  bad("name: a\nname: b\n");
  bad("name: [a, b\n");
  // A valid scenario round-trips through YAML.
  const s = parseScenarioText(stringify(baseInput()), "ok.yaml");
  assert.deepEqual(s, makeScenario());
  // Not a mapping at all.
  assert.throws(() => parseScenarioText("- 1\n- 2\n"), ScenarioError);
  assert.throws(() => parseScenarioText(""), ScenarioError);
});

test("YAML text: an unresolved alias or an alias bomb is a ScenarioError, not a ReferenceError", () => {
  const bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" +
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n" +
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
    "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n";
  for (const text of ["name: *nowhere\n", "*x\n", bomb]) {
    assert.throws(() => parseScenarioText(text, "alias.yaml"), (e: unknown) => {
      assert.ok(e instanceof ScenarioError, `${JSON.stringify(text.slice(0, 30))}: ${(e as Error).name}: ${(e as Error).message}`);
      return true;
    });
  }
  // Aliases that resolve are fine YAML (the scenario itself is then validated).
  assert.throws(() => parseScenarioText("name: &n test\ntitle: *n\n"), (e: unknown) => e instanceof ScenarioError && !e.problems.some((p) => p.path === "title"));
});

test("loadScenario: a missing file is a ScenarioError naming the path", () => {
  const path = join(tmpdir(), "credence-no-such-scenario.yaml");
  assert.throws(() => loadScenario(path), (e: unknown) => e instanceof ScenarioError && e.source === path && /no readable file/.test(e.problems[0].found));
  const dir = mkdtempSync(join(tmpdir(), "credence-scenario-"));
  try {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, stringify(deepMerge(baseInput(), { scoring: { typo: true } })));
    assert.throws(() => loadScenario(file), (e: unknown) => e instanceof ScenarioError && e.source === file && e.problems.some((p) => p.path === "scoring.typo"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every shipped scenario in scenarios/*.yaml validates", () => {
  const files = readdirSync(scenariosDir).filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"));
  assert.ok(files.length >= 2, `scenarios found: ${files.join(", ")}`);
  for (const f of files) {
    let s;
    try {
      s = loadScenario(join(scenariosDir, f));
    } catch (e) {
      assert.fail(`${f} does not validate: ${(e as Error).message}`);
    }
    assert.equal(`${s.name}.yaml`, f, "a scenario's name matches its file name");
    assert.ok(s.behaviours.length > 0);
    for (const t of s.targets) assert.ok(Number.isFinite(t.value), `${f}: target ${t.metric}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Fuzzing: whatever the input, parsing either succeeds or throws a ScenarioError.

function parsesOrScenarioError(run: () => unknown): void {
  try {
    run();
  } catch (e) {
    if (!(e instanceof ScenarioError)) throw new Error(`not a ScenarioError: ${(e as Error)?.stack ?? String(e)}`);
    for (const p of e.problems) {
      assert.equal(typeof p.path, "string");
      assert.equal(typeof p.found, "string");
      assert.equal(typeof p.expected, "string");
    }
  }
}

const jsonish = fc.jsonValue({ maxDepth: 4 });
const anyValue = fc.oneof(
  jsonish,
  fc.constantFrom(undefined, null, NaN, Infinity, -Infinity, -1, 0, 1e308, "", [], {}, true),
  fc.string(),
  fc.double(),
);

test("fuzz: random JSON-like objects parse or throw ScenarioError", () => {
  fc.assert(
    fc.property(fc.oneof(anyValue, fc.dictionary(fc.constantFrom("name", "population", "behaviours", "lists", "scoring", "observation", "x"), anyValue)),
      (input) => parsesOrScenarioError(() => parseScenario(input))),
    { numRuns: 300 },
  );
});

test("fuzz: random text parses or throws ScenarioError", () => {
  const valid = stringify(baseInput());
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.nat(valid.length),
      fc.tuple(fc.nat(valid.length), fc.oneof(fc.string(), fc.constantFrom("*a", "&a ", "!!int ", "!!binary ", "? ", "- ", ": ", "{", "[", "\t", "\n  ", "<<: ")))),
      (x) => {
        const text = typeof x === "string" ? x
          : typeof x === "number" ? valid.slice(0, x) // a truncated file
          : valid.slice(0, x[0]) + x[1] + valid.slice(x[0]); // an insertion
        parsesOrScenarioError(() => parseScenarioText(text));
      }),
    { numRuns: 300 },
  );
});

/** Every path to a value inside an object tree (keys and array indices). */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (v === null || typeof v !== "object") return [prefix];
  const entries = Array.isArray(v) ? v.map((x, i) => [i, x] as const) : Object.entries(v);
  return [prefix, ...entries.flatMap(([k, x]) => paths(x, [...prefix, k]))];
}

function mutate(root: Record<string, unknown>, path: (string | number)[], op: "delete" | "replace", value: unknown): void {
  if (path.length === 0) return;
  let parent: Record<string | number, unknown> = root;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const key = path[path.length - 1];
  if (op === "delete") {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  } else {
    parent[key] = value;
  }
}

test("fuzz: mutations of a valid scenario (delete a key, replace a value) parse or throw ScenarioError", () => {
  const allPaths = paths(baseInput()).filter((p) => p.length > 0);
  let parsed = 0, rejected = 0;
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(allPaths.length - 1), fc.constantFrom("delete" as const, "replace" as const), anyValue), { minLength: 1, maxLength: 3 }),
      (mutations) => {
        const input = baseInput();
        for (const [k, op, value] of mutations) {
          // Paths may vanish after an earlier mutation: apply only those that still lead somewhere.
          const path = allPaths[k];
          let parent: unknown = input;
          for (const step of path.slice(0, -1)) parent = parent !== null && typeof parent === "object" ? (parent as Record<string | number, unknown>)[step] : undefined;
          if (parent === null || typeof parent !== "object") continue;
          mutate(input, path, op, value);
        }
        try {
          parseScenario(input);
          parsed++;
        } catch (e) {
          if (!(e instanceof ScenarioError)) throw new Error(`not a ScenarioError: ${(e as Error)?.stack ?? String(e)}`);
          rejected++;
          // Each problem points somewhere: a path (or the root) and a readable message.
          for (const p of e.problems) assert.ok(typeof p.path === "string" && p.expected.length > 0);
        }
      }),
    { numRuns: 400 },
  );
  // Both outcomes occur: deleting optional keys keeps the scenario valid, breaking values does not.
  assert.ok(parsed > 0 && rejected > 0, `parsed ${parsed}, rejected ${rejected}`);
});

test("fuzz: a valid scenario with random numeric fields either parses into a runnable scenario or is rejected", () => {
  // Numbers in range must give a scenario that simulate accepts (checked for validity only here).
  const numericPaths = paths(baseInput()).filter((p) => {
    let v: unknown = baseInput();
    for (const k of p) v = (v as Record<string | number, unknown>)[k];
    return typeof v === "number";
  });
  fc.assert(
    fc.property(fc.nat(numericPaths.length - 1), fc.oneof(fc.double({ noNaN: false }), fc.integer({ min: -1e6, max: 1e6 })), (k, value) => {
      const input = baseInput();
      mutate(input, numericPaths[k], "replace", value);
      parsesOrScenarioError(() => parseScenario(input));
    }),
    { numRuns: 300 },
  );
});

// ---------------------------------------------------------------------------------------------
// Files: only regular files are read, within the size limit, and a file an `extends:` points at
// is never echoed unless it looks like a scenario.

/**
 * Loads `file` (a scenario, or an experiment when `kind` says so) in a child process killed after
 * 3 s: the old loader grew memory on /dev/zero and hung on a FIFO, which would take the test
 * runner with it. Returns the error message and the milliseconds the load took.
 */
function loadInChild(file: string, kind: "scenario" | "experiment" = "scenario"): { message: string; ms: number } {
  const module = kind === "scenario" ? "../src/scenario/load.js" : "../src/experiment/spec.js";
  const call = kind === "scenario" ? "loadScenario" : "loadExperiment";
  const script = `
    const m = await import(${JSON.stringify(new URL(module, import.meta.url).href)});
    const t0 = performance.now();
    let message = "loaded";
    try { m.${call}(${JSON.stringify(file)}); } catch (e) { message = e.message; }
    process.stdout.write(JSON.stringify({ message, ms: performance.now() - t0 }));`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 3000, killSignal: "SIGKILL" });
  assert.equal(r.signal, null, `loading ${file} did not finish within 3 s (killed)`);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { message: string; ms: number };
}

test("files: /dev/zero and a FIFO are refused within a second, named or under extends:", () => {
  const dir = mkdtempSync(join(tmpdir(), "credence-special-"));
  try {
    const fifo = join(dir, "pipe.yaml");
    execFileSync("mkfifo", [fifo]);
    for (const special of ["/dev/zero", fifo]) {
      const named = loadInChild(special);
      assert.match(named.message, /not a regular file/, special);
      assert.ok(named.ms < 1000, `${special}: ${named.ms} ms`);
      const overlay = join(dir, "overlay.yaml");
      writeFileSync(overlay, `extends: ${special}\nname: overlay\n`);
      const extended = loadInChild(overlay);
      assert.match(extended.message, /extends: found .*not a regular file/, special);
      assert.ok(extended.ms < 1000, `extends ${special}: ${extended.ms} ms`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("files: the size limit holds for what is read, whatever stat says; a folder is refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "credence-size-"));
  try {
    const big = join(dir, "big.yaml");
    writeFileSync(big, "# " + "x".repeat(MAX_SCENARIO_BYTES) + "\n");
    assert.throws(() => loadScenario(big), (e: unknown) => e instanceof ScenarioError && /more than 262,144 bytes/.test(e.problems[0].found));
    assert.throws(() => loadScenario(dir), (e: unknown) => e instanceof ScenarioError && /a folder, not a regular file/.test(e.problems[0].found));
    // /proc files say they hold 0 bytes: a check of stat's size before reading lets them through.
    if (existsSync("/proc/kallsyms") && readFileSync("/proc/kallsyms").length > MAX_SCENARIO_BYTES) {
      const overlay = join(dir, "overlay.yaml");
      writeFileSync(overlay, "extends: /proc/kallsyms\nname: overlay\n");
      assert.throws(() => loadScenario(overlay), (e: unknown) => e instanceof ScenarioError && /more than 262,144 bytes/.test(e.problems[0].found));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("files: a scenario named through a symbolic link loads; an extends: that is a link is refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "credence-link-"));
  try {
    writeFileSync(join(dir, "real.yaml"), stringify(baseInput()));
    symlinkSync(join(dir, "real.yaml"), join(dir, "link.yaml"));
    assert.equal(loadScenario(join(dir, "link.yaml")).name, "test-minimal");
    writeFileSync(join(dir, "overlay.yaml"), "extends: link.yaml\nname: overlay\n");
    assert.throws(() => loadScenario(join(dir, "overlay.yaml")), (e: unknown) => e instanceof ScenarioError && e.problems[0].path === "extends" && /symbolic link/.test(e.problems[0].found));
    writeFileSync(join(dir, "overlay.yaml"), "extends: real.yaml\nname: overlay\n");
    assert.equal(loadScenario(join(dir, "overlay.yaml")).name, "overlay");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("files: an extends: or an experiment's scenario: that is not a scenario is named, its contents never shown", () => {
  const dir = mkdtempSync(join(tmpdir(), "credence-secret-"));
  const token = "eyJhbGciOiJSUzI1NiIsImtpZCI6IlRPUFNFQ1JFVCJ9";
  try {
    const kubeconfig = join(dir, "config");
    writeFileSync(kubeconfig, [
      "apiVersion: v1", "kind: Config", "current-context: prod",
      "clusters:", "  - name: prod", "    cluster:", "      server: https://10.1.2.3:6443",
      "users:", "  - name: admin", "    user:", `      token: ${token}`, "",
    ].join("\n"));
    const secretJson = join(dir, "secrets.json");
    writeFileSync(secretJson, JSON.stringify({ name: "prod", token, population: { size: token } }));
    // Scenario-shaped but for one key that only Object.prototype has.
    const inherited = join(dir, "inherited.json");
    writeFileSync(inherited, JSON.stringify({ name: "x", population: {}, behaviours: [], toString: token }));
    const broken = join(dir, "broken.yaml");
    writeFileSync(broken, `token: ${token}\n  bad: [indent\n`);
    for (const target of [kubeconfig, secretJson, inherited, broken]) {
      const overlay = join(dir, "overlay.yaml");
      writeFileSync(overlay, `extends: ${target}\nname: overlay\n`);
      let e: Problem[] = [];
      assert.throws(() => loadScenario(overlay), (err: unknown) => err instanceof ScenarioError && Boolean(e = err.problems));
      const text = JSON.stringify(e);
      assert.ok(!text.includes(token.slice(0, 8)) && !text.includes("10.1.2.3") && !text.includes("admin"), `${target} echoed: ${text}`);
      assert.equal(e[0].path, "extends");
      assert.match(e[0].found, new RegExp(`${target.replace(/[.\\]/g, "\\$&")}.*(does not look like a Credence scenario|not well-formed YAML)`));

      const experiment = join(dir, "experiment.yaml");
      writeFileSync(experiment, stringify({ name: "x", scenario: target, replicates: 1, parameters: { days: [1, 2] }, metrics: ["chilling"] }));
      const x = loadInChild(experiment, "experiment");
      assert.ok(!x.message.includes(token.slice(0, 8)) && !x.message.includes("10.1.2.3") && !x.message.includes("admin"), `${target} echoed: ${x.message}`);
      assert.match(x.message, /does not look like a Credence scenario|not well-formed YAML/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("defaults: appeals switched on with no stages get one whole default stage, not an empty object", () => {
  // zod's .default() hands back its value unparsed: a stage of {} made every latency and accuracy undefined.
  const s = parseScenario({ ...baseInput(), appeals: { enabled: true } });
  assert.equal(s.appeals.stages.length, 1);
  for (const [k, v] of Object.entries(s.appeals.stages[0])) assert.equal(typeof v, "number", `stages[0].${k}`);
  assert.ok(s.appeals.stages[0].capacityPerMillionPerDay > 0 && s.appeals.stages[0].accuracy > 0);
});

test("cameras: a false-match rate above what the true-match rate leaves is refused, naming the bound", () => {
  // A face in view is matched right (trueMatchRate), matched wrong (falseMatchRate) or not at all: one draw.
  const problems = problemsOf({ observation: { cameras: { trueMatchRate: 0.955, falseMatchRate: 0.1 } } });
  assert.ok(problems.some((p) => p.path === "observation.cameras.falseMatchRate" && /at most 1 - trueMatchRate \(0\.045\)/.test(p.expected)), JSON.stringify(problems));
  makeScenario({ observation: { cameras: { trueMatchRate: 0.955, falseMatchRate: 0.045 } } });
});
